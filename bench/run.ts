/**
 * Benchmark dispatcher: `npm run bench -- NAME [args]` runs `node dist/bench/run.js NAME [args]`.
 * Each benchmark prints its results as lines `RESULT <name> <value> <unit>` (a ratio's unit is `x`)
 * and measures its reference (the BEAM, another library...) in the same run. An unknown NAME lists
 * the benchmarks and exits with 2.
 */

interface Benchmark {
  summary: string;
  load: () => Promise<{ run(args: string[]): Promise<void> }>;
}

/** Every benchmark: add new ones here. */
const BENCHMARKS: Record<string, Benchmark> = {
  etf: {
    summary: 'ETF decode/encode throughput on trace batches and synthetic terms, against the BEAM in the same run',
    load: () => import('./etf.js'),
  },
  ast: { summary: 'AST instrumentation: an instrumented call at each level vs untraced and runtime-traced; instrument/revert a 1,000-line module', load: () => import('./ast.js') },
  ingest: { summary: 'Ingest from the socket to the durable store (events/s), against the BEAM decoding the same batches', load: () => import('./ingest.js') },
  overhead: {
    summary: 'what tracing costs the traced code: untraced, null tracer, ElixirScope and :dbg in one run',
    load: () => import('./overhead.js'),
  },
  dist: { summary: 'Distribution: 50 MB each way and small-message bursts, against BEAM-to-BEAM in the same run', load: () => import('./dist.js') },
  query: { summary: 'Time-travel queries (history, state-at, call tree) on a 10M-event recording, against sequential reads', load: () => import('./query.js') },
  ui: { summary: 'Cinema page on 1M events in headless chromium: first paint, pan frame times, JS heap, against the 2 s / 20 ms aims', load: () => import('./ui.js') },
};

function usage(): string {
  const names = Object.entries(BENCHMARKS)
    .map(([name, b]) => `  ${name.padEnd(12)} ${b.summary}`)
    .join('\n');
  return `usage: npm run bench -- NAME [args]\n\nbenchmarks:\n${names}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === '--help' || name === '-h') {
    process.stdout.write(usage());
    return 0;
  }
  const bench = name === undefined ? undefined : BENCHMARKS[name];
  if (bench === undefined) {
    process.stderr.write(`${name === undefined ? 'no benchmark named' : `unknown benchmark: ${name}`}\n\n${usage()}`);
    return 2;
  }
  const mod = await bench.load();
  await mod.run(args);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`benchmark failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
