// `churnflow replay --workers N`: N worker threads (replay-worker.ts) each read and decode the whole
// input — so event time, the watermark, validation and the replay clock are exactly a single-threaded
// replay's in each of them — and keep the state of one shard of the customers (operators/own-shard.ts).
// The stateful stages (state, features, scoring, decisions, reasons), most of a replay's time, are
// split N ways; decoding is repeated in each. The coordinator puts the workers' outputs back in
// input order (sinks/ordered-merge.ts) and writes them to the same files a single-threaded replay
// writes: the same bytes, which test/topology/replay-cli.test.ts checks.
//
// A stop (SIGTERM, SIGINT) stops every worker's input; the outputs are then written up to the first
// input position some worker had not passed, so they are a prefix of the full replay's outputs.
import { Worker } from 'node:worker_threads';
import { Observable } from 'rxjs';
import { App } from '../app.js';
import { buildSinks } from '../compose/sinks.js';
import { lazyRegistryClient } from '../compose/registry-client.js';
import { ChurnflowError } from '../errors.js';
import type { CurrentRiskRecord, DeadLetterRecord, RiskEventRecord } from '../events/wire-types.js';
import { RunTally } from '../monitoring/run-tally.js';
import type { Logger } from '../observability/logger.js';
import type { OutputSinks } from '../operators/write-outputs.js';
import { OrderedMerge } from '../sinks/ordered-merge.js';
import { commandLogger } from './common.js';
import { startProgress } from './progress.js';
import { replayConfig, writeSummary, type ReplayFlags } from './replay-job.js';
import type { FromCoordinator, ToCoordinator } from './replay-protocol.js';

type Done = Extract<ToCoordinator, { type: 'done' }>;

/** How long the end of a run waits for its workers to exit by themselves before terminating them. */
const EXIT_WAIT_MS = 30_000;

export async function parallelReplay(flags: ReplayFlags): Promise<void> {
  const config = replayConfig(flags);
  const logger = commandLogger(config);
  const app = new App(logger);
  app.installSignalHandlers();
  app.starting();
  const sinks = await buildSinks(config, { owner: app, registry: lazyRegistryClient(config, app), logger });
  const run = new ParallelRun(flags, sinks, logger);
  app.onStop(() => run.stop());
  const progress = startProgress('replay', { records: () => run.records, fraction: () => run.fraction(), detail: () => `${flags.workers} workers` });
  const started = performance.now();
  try {
    await app.run(run.job);
  } finally {
    progress.stop();
  }
  if (run.results.length === 0) {
    // Stopped during start-up: no worker ran, nothing was read (a single-threaded replay writes an empty summary then; here no model was loaded to name).
    process.stderr.write(`replay: stopped before it started; nothing written to ${flags.out}\n`);
    return;
  }
  const tally = new RunTally();
  let budgetCuts = 0;
  for (const d of run.results) {
    tally.add(d.tally);
    budgetCuts += d.budgetCuts;
  }
  writeSummary(flags, run.results[0]!.modelRef, tally, budgetCuts, (performance.now() - started) / 1000, `, ${flags.workers} workers`);
}

class ParallelRun {
  /** Records the workers have finished, for the progress line. */
  records = 0;
  readonly results: Done[] = [];
  private workers: Worker[] = [];
  /** Each worker's share of the input read, as last reported. */
  private readonly read: (number | undefined)[];

  constructor(
    private readonly flags: ReplayFlags,
    private readonly sinks: OutputSinks,
    private readonly logger: Logger,
  ) {
    // The workers' capture keeps dead letters and late events as one output, as file outputs do.
    if (sinks.late !== sinks.deadLetter || !sinks.currentRisk) throw new ChurnflowError('CF_CONFIG_INVALID', 'replay --workers writes file outputs only (sinks.kind file)');
    this.read = new Array<number | undefined>(flags.workers).fill(undefined);
  }

  /** How far the replay is: the slowest worker's share of the input (every worker reads all of it). */
  fraction(): number | undefined {
    let min: number | undefined;
    for (const r of this.read) {
      if (r === undefined) return undefined;
      min = min === undefined ? r : Math.min(min, r);
    }
    return min;
  }

  stop(): void {
    const stop: FromCoordinator = { type: 'stop' };
    for (const w of this.workers) w.postMessage(stop);
  }

  readonly job = new Observable<never>((subscriber) => {
    const n = this.flags.workers;
    const risk = new OrderedMerge<RiskEventRecord>(n);
    const current = new OrderedMerge<CurrentRiskRecord>(n);
    const dead = new OrderedMerge<DeadLetterRecord>(n);
    const merges = [risk, current, dead] as const;
    const done: (Done | undefined)[] = new Array<Done | undefined>(n).fill(undefined);
    let failed = false;
    // Writes one after another, in the order released: a file's bytes follow input order.
    let writing = Promise.resolve();
    // A worker ends by itself once it stopped and closed its model. Terminating one while onnxruntime
    // is inside a native call (loading or releasing a session) aborts the whole process
    // ("terminate called after throwing an instance of 'Napi::Error'", exit 134), so the end of the run
    // waits for the workers to exit, and terminate() is only the fallback after EXIT_WAIT_MS.
    const exited: Promise<void>[] = [];
    const allExited = () => Promise.race([Promise.all(exited).then(() => undefined), new Promise<void>((resolve) => setTimeout(resolve, EXIT_WAIT_MS).unref())]);
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      this.stop();
      void allExited().then(() => subscriber.error(err));
    };
    const release = (limit?: number) => {
      const r = risk.take(limit);
      const c = current.take(limit);
      const d = dead.take(limit).map(reviveBytes);
      if (r.length + c.length + d.length === 0) return;
      writing = writing.then(async () => {
        await Promise.all([this.sinks.risk.write(r), this.sinks.currentRisk!.write(c), this.sinks.deadLetter.write(d)]);
      });
      writing.catch(fail);
    };
    const finish = () => {
      // Stopped workers never reach the end: what lies past the frontier stays unwritten (a prefix).
      const held = risk.held + current.held + dead.held;
      release(risk.frontier);
      const dropped = risk.held + current.held + dead.held;
      if (dropped > 0) this.logger.warn({ dropped, of: held }, 'replay stopped: outputs past the slowest worker are not written');
      this.results.push(...(done as Done[]));
      writing.then(async () => {
        await allExited();
        subscriber.complete();
      }, fail);
    };
    const onMessage = (i: number, m: ToCoordinator) => {
      if (failed) return;
      try {
        if (m.type === 'failed') {
          fail(new ChurnflowError('CF_REPLAY_WORKER', `replay worker ${i} of ${n} failed: ${m.message}${m.code ? ` (${m.code})` : ''}`, { retriable: false, details: { worker: i, ...(m.code ? { code: m.code } : {}) } }));
          return;
        }
        if (m.type === 'batch') {
          risk.push(i, m.risk.seq, m.risk.values, m.progress);
          current.push(i, m.currentRisk.seq, m.currentRisk.values, m.progress);
          dead.push(i, m.deadLetters.seq, m.deadLetters.values, m.progress);
          this.records += m.records;
          if (m.read !== undefined) this.read[i] = m.read;
          release();
          return;
        }
        done[i] = m;
        if (!m.stopped) for (const merge of merges) merge.advance(i, Number.POSITIVE_INFINITY);
        if (done.every((d) => d !== undefined)) finish();
        else release();
      } catch (err) {
        fail(err);
      }
    };
    this.workers = Array.from({ length: n }, (_, index) => {
      const w = new Worker(new URL('./replay-worker.js', import.meta.url), { workerData: { flags: this.flags, shard: { index, count: n } } });
      w.on('message', (m: ToCoordinator) => onMessage(index, m));
      w.on('error', (err) => fail(new ChurnflowError('CF_REPLAY_WORKER', `replay worker ${index} of ${n} crashed: ${err.message}`, { cause: err })));
      exited.push(
        new Promise<void>((resolve) =>
          w.once('exit', (code) => {
            resolve();
            if (done[index] === undefined && !failed) fail(new ChurnflowError('CF_REPLAY_WORKER', `replay worker ${index} of ${n} exited (code ${code}) before it finished`));
          }),
        ),
      );
      return w;
    });
    return () => {
      for (const w of this.workers) void w.terminate();
    };
  });
}

/** A dead letter's bytes cross the thread boundary as a Uint8Array; the sinks write a Buffer (as base64 text). */
function reviveBytes(d: DeadLetterRecord): DeadLetterRecord {
  const buf = (b: Uint8Array | Buffer | null) => (b === null || Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  return { ...d, payload: buf(d.payload)!, original_key: buf(d.original_key) };
}
