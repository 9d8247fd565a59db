// Tiny benchmark harness: warm-up, several timed runs, medians, and ratios against a baseline that
// is measured in the same run (so machine noise affects both sides alike).
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface Measurement {
  readonly name: string;
  /** Work items per run (events, rows). */
  readonly items: number;
  readonly runsMs: number[];
}

/**
 * A full garbage collection, untimed, before a timed run: a run of a scenario then starts from the live
 * heap alone, not from the garbage the run before it left (a whole memory store of states, dead but
 * not yet collected). Without it, pipeline-throughput's features scenario was bimodal per process —
 * 8.8–10 or 12–14 µs of CPU an event on the same build, by when the mark-compacts fell (docs/
 * architecture.md, "Session 18") — which no single run of a user has. V8's gc() is exposed at runtime
 * (--expose-gc set before the context is made), so `node dist/bench/…` needs no flag.
 */
export function collectGarbage(): void {
  gcFunction()();
}

let gcCache: (() => void) | undefined;
function gcFunction(): () => void {
  if (gcCache !== undefined) return gcCache;
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed !== undefined) return (gcCache = exposed);
  v8.setFlagsFromString('--expose-gc');
  return (gcCache = runInNewContext('gc') as () => void);
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export async function measure(name: string, items: number, runs: number, fn: () => Promise<void> | void, warmups = 1): Promise<Measurement> {
  for (let i = 0; i < warmups; i++) await fn();
  const runsMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    runsMs.push(performance.now() - t0);
  }
  return { name, items, runsMs };
}

export function perSecond(m: Measurement): number {
  return m.items / (median(m.runsMs) / 1000);
}

export function microsPerItem(m: Measurement): number {
  return (median(m.runsMs) * 1000) / m.items;
}

/** Prints a table: median time, throughput, per-item cost and the ratio to the baseline row. */
export function report(title: string, rows: readonly Measurement[], baseline: Measurement, unit: string): void {
  const base = perSecond(baseline);
  console.log(`\n${title}`);
  console.log(`  ${'scenario'.padEnd(58)} ${'median ms'.padStart(10)} ${`${unit}/s`.padStart(14)} ${`µs/${unit}`.padStart(10)} ${'vs baseline'.padStart(12)}  runs`);
  for (const m of rows) {
    const ratio = perSecond(m) / base;
    console.log(
      `  ${m.name.padEnd(58)} ${median(m.runsMs).toFixed(1).padStart(10)} ${Math.round(perSecond(m)).toLocaleString('en-US').padStart(14)} ${microsPerItem(m).toFixed(2).padStart(10)} ${`${ratio.toFixed(3)}×`.padStart(12)}  ${m.runsMs.length}`,
    );
  }
  console.log(`  baseline: ${baseline.name}; ratios are throughput relative to it (medians of the runs above)`);
}

/**
 * Writes a bench's figures to bench/results/<bench>.json (git-ignored), beside the printed table, so
 * tools and later sessions read the same numbers a person reads.
 */
export async function writeResults(bench: string, figures: Readonly<Record<string, number | string>>): Promise<void> {
  const { mkdirSync, writeFileSync } = await import('node:fs');
  const { fileURLToPath } = await import('node:url');
  // dist/bench/harness.js → <repo>/bench/results
  const dir = fileURLToPath(new URL('../../bench/results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const { availableParallelism, cpus, loadavg, totalmem } = await import('node:os');
  // Where and under what load: a figure from a shared 2-core machine is not one from a dedicated node.
  const machine = `${availableParallelism()} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  const out = { bench, measured_at: new Date().toISOString(), machine, load_avg_1m: Number(loadavg()[0]!.toFixed(2)), runs: Number(process.env.BENCH_RUNS ?? 5), ...figures };
  writeFileSync(`${dir}${bench}.json`, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`  figures written to bench/results/${bench}.json`);
}
