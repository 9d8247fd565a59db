// `churnflow run --config churnflow.yaml`: the production job. Kafka (Avro + Schema Registry) in,
// Redis state, risk events and dead letters out, /metrics /healthz /readyz; SIGTERM drains gracefully.
import { Command } from 'commander';
import { loadConfig } from '../config/load-config.js';
import { createEngine } from '../engine.js';
import { productionEdges } from '../engine-production.js';
import { createLogger } from '../observability/logger.js';
import { resolveInstanceId } from '../observability/instance-id.js';

export function runCommand(): Command {
  return new Command('run')
    .description('run the scoring job as configured (Kafka + Schema Registry + Redis in production; files or the simulator for local runs)')
    .option('-c, --config <file>', 'config file (YAML/JSON); environment variables CHURNFLOW_* override it')
    .action(async (flags: { config?: string }) => {
      const config = loadConfig(flags.config ? { file: flags.config } : {});
      const logger = createLogger({ level: config.log.level, instance: resolveInstanceId(config.instance.id) });
      const engine = await createEngine(config, { logger, factories: productionEdges() });
      engine.app.installSignalHandlers();
      logger.info({ source: config.source.kind, state: config.state.kind, sinks: config.sinks.kind, http: engine.httpUrl, pid: process.pid }, 'churnflow running');
      let batches = 0;
      try {
        await engine.run(() => {
          batches++;
        });
      } catch (err) {
        // FAILED (a non-retriable job error, e.g. the consumer crashed for good): say why, then exit
        // non-zero (main) so the supervisor restarts us; nothing past the last acknowledged batch was committed.
        logger.fatal({ err, batches }, 'churnflow run failed; exiting non-zero');
        await new Promise<void>((resolve) => logger.flush(() => resolve()));
        throw err;
      }
      logger.info({ batches }, 'stopped');
      // Everything is drained, committed and closed: exit now rather than wait on library timers
      // (a client's reconnect or restart timer must not keep a stopped engine alive).
      await new Promise<void>((resolve) => logger.flush(() => resolve()));
      process.exit(0);
    });
}
