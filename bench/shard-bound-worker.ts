// One worker thread of bench/shard-bound.bench.ts: the pipeline scenarios of pipeline-scenarios.ts,
// run on the shard file it is given. Protocol: workerData = { endTime }; posts 'ready' once the model
// is loaded; each { scenario, file, outDir } message runs one scenario (after a full collection,
// untimed) and posts { ms }, its wall time.
import { parentPort, workerData } from 'node:worker_threads';
import { collectGarbage } from './harness.js';
import { pipelineScenarios } from './pipeline-scenarios.js';

export type ShardScenario = 'features' | 'replay';
export interface ShardJob {
  readonly scenario: ShardScenario;
  readonly file: string;
  readonly outDir: string;
}

const port = parentPort!;
const pipelines = await pipelineScenarios((workerData as { endTime: number }).endTime);
port.on('message', (job: ShardJob | 'close') => {
  if (job === 'close') {
    void pipelines.close().then(() => port.close());
    return;
  }
  collectGarbage();
  const t0 = performance.now();
  void pipelines[job.scenario](job.file, job.outDir).then(() => port.postMessage({ ms: performance.now() - t0 }));
});
port.postMessage('ready');
