/**
 * The few DOM builders every panel uses, in one place: text goes in as textContent, never as HTML,
 * so a term or a history line can never inject markup into the page.
 */

/** A `<span>` of text with a class. */
export function text(t: string, cls: string): HTMLElement {
  const s = document.createElement('span');
  s.className = cls;
  s.textContent = t;
  return s;
}

/** A `<code>` of text. */
export function code(t: string): HTMLElement {
  const c = document.createElement('code');
  c.textContent = t;
  return c;
}

/** A paragraph saying something about the panel (why it is empty, what to do). */
export function note(t: string, cls = 'es-note'): HTMLElement {
  const p = document.createElement('p');
  p.className = cls;
  p.textContent = t;
  return p;
}

/** A button that calls `fn` when clicked. */
export function button(label: string, fn: () => void, cls = ''): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  if (cls !== '') b.className = cls;
  b.addEventListener('click', fn);
  return b;
}
