// One worker thread of a parallel replay (replay-parallel.ts): the replay of replay-job.ts on the
// whole input, keeping one shard of it (operators/own-shard.ts), with sinks that capture what the
// topology writes. After each batch it posts those outputs, each with the input position of the
// record that produced it, and how far through the input it is; at the end its tally.
import { parentPort, workerData } from 'node:worker_threads';
import { App } from '../app.js';
import { errorMessage } from '../errors.js';
import { RunTally } from '../monitoring/run-tally.js';
import type { Shard } from '../operators/own-shard.js';
import { commandLogger } from './common.js';
import { buildReplayJob, replayConfig, type ReplayFlags } from './replay-job.js';
import { captureOutputs } from './replay-capture.js';
import type { FromCoordinator, ToCoordinator } from './replay-protocol.js';

const { flags, shard } = workerData as { flags: ReplayFlags; shard: Shard };
const port = parentPort!;
const send = (m: ToCoordinator) => port.postMessage(m);

// A stop can come before the app exists (still loading modules): it applies as soon as the app does.
let stopApp: (() => void) | undefined;
let app: App | undefined;
let stopped = false;
const onMessage = (m: FromCoordinator) => {
  if (m.type !== 'stop') return;
  stopped = true;
  stopApp?.();
};
port.on('message', onMessage);

try {
  const config = replayConfig(flags);
  const logger = commandLogger(config, `replay-worker-${shard.index}`);
  app = new App(logger);
  app.starting();
  stopApp = () => app?.stop('the coordinator stops');
  if (stopped) stopApp();
  const capture = captureOutputs();
  const { job, replay, modelRef } = await buildReplayJob(flags, config, app, logger, async () => capture.sinks, shard);
  const tally = new RunTally();
  await app.run(job, {
    onNext: (batch) => {
      tally.observe(batch);
      const p = replay.source.progress?.();
      send({ type: 'batch', records: batch.items.length, ...(p && p.total > 0 ? { read: p.done / p.total } : {}), ...capture.take(batch) });
    },
  });
  replay.finish();
  send({ type: 'done', tally: tally.counts(), budgetCuts: replay.budgetCuts(), modelRef, stopped });
} catch (err) {
  // A failed run closed what the app opened (the model among them) before it rejected; a failed
  // start-up has not: close it here, so the thread can end by itself.
  if (app && app.state !== 'FAILED' && app.state !== 'STOPPED') await app.abort(err);
  const code = (err as { code?: unknown }).code;
  send({ type: 'failed', message: errorMessage(err), ...(typeof code === 'string' ? { code } : {}) });
} finally {
  // Nothing left to listen for: the thread ends by itself (the coordinator waits for that).
  port.off('message', onMessage);
}
