/**
 * What every benchmark prints and how it summarises repeated runs: `RESULT <name> <value> <unit>`
 * lines (docs/performance.md quotes them), medians, and a timed median of passes.
 */

/** Prints one result; a ratio (unit `x`) with two decimals, other values with three significant digits or as whole numbers from 100 up. */
export function result(name: string, value: number, unit: string): void {
  const v =
    unit === 'x' ? value.toFixed(2) : Math.abs(value) >= 100 ? Math.round(value).toString() : Number(value.toPrecision(3)).toString();
  process.stdout.write(`RESULT ${name} ${v} ${unit}\n`);
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[(s.length - 1) >> 1]!;
}

/** Warms `pass` up, then runs it for `seconds` (and at least 5 times); the median time of one pass in ms. */
export function medianPass(pass: () => void, seconds: number): number {
  const warm = performance.now() + Math.min(1000, seconds * 300);
  while (performance.now() < warm) pass();
  const times: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  while (times.length < 5 || performance.now() < deadline) {
    const t0 = performance.now();
    pass();
    times.push(performance.now() - t0);
  }
  return median(times);
}
