/**
 * Rendering of a term inside an error message (exit reasons, badrpc reasons): Elixir's inspect,
 * bounded so that a huge reason cannot flood a terminal.
 */

import { inspect } from './inspect.js';
import type { Term } from './terms.js';

export function renderTerm(t: Term): string {
  return inspect(t, { limit: 20, printableLimit: 200 });
}
