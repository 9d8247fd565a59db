// `churnflow simulate`: writes a simulated activity stream as NDJSON or an Avro container file.
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import avro from 'avsc';
import { Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../config/load-config.js';
import { registryClientFromConfig } from '../serde/registry-from-config.js';
import { activityEventEncoder } from '../serde/registry-encoder.js';
import { produceActivity } from '../sinks/activity-producer.js';
import { KafkaProducerPool } from '../sinks/kafka-sink.js';
import { ensureTopics } from '../sources/ensure-topics.js';
import type { SimulatorOptions } from '../simulator/index.js';
import { ActivityCodec } from '../serde/activity-codec.js';
import { avroType } from '../serde/schemas.js';
import { simulate, recordToNdjson } from '../simulator/index.js';
import { addSimulatorFlags, simulatorOptionsFrom, type SimulatorFlags } from './common.js';

export function simulateCommand(): Command {
  const cmd = new Command('simulate').description('generate a simulated customer activity stream (deterministic per seed)');
  addSimulatorFlags(cmd, { customers: 2000, days: 120 })
    .option('-o, --out <file>', 'output file: .ndjson, or .avro for an Avro container file (defective records are NDJSON-only)')
    .option('--to <target>', "'file' (default, needs --out) or 'kafka' (the activity topic of the config; Avro via the Schema Registry)", 'file')
    .option('-c, --config <file>', 'with --to kafka: config file for brokers, topic, registry, format (env CHURNFLOW_* overrides)')
    .action(async (flags: SimulatorFlags & { out?: string; to: string; config?: string }) => {
      const options = simulatorOptionsFrom(flags);
      if (flags.to === 'kafka') {
        await simulateToKafka(options, flags.config);
        return;
      }
      if (flags.to !== 'file' || !flags.out) throw new InvalidArgumentError("use --out <file>, or --to kafka");
      const outFile = flags.out;
      await mkdir(dirname(outFile), { recursive: true });
      const out = createWriteStream(outFile);
      const counts = { events: 0, bad: 0, skipped: 0 };
      const started = performance.now();
      if (outFile.endsWith('.avro')) {
        const codec = new ActivityCodec();
        const encoder = new avro.streams.BlockEncoder(avroType('activity-event'), { codec: 'null' });
        encoder.pipe(out);
        for (const rec of simulate(options)) {
          if (rec.type === 'bad') {
            counts.skipped++;
            continue;
          }
          if (!encoder.write(codec.toAvroObject(codec.fromJsonObject(rec.event)))) await new Promise<void>((r) => encoder.once('drain', () => r()));
          counts.events++;
        }
        await new Promise<void>((resolve) => {
          out.once('close', () => resolve());
          encoder.end();
        });
      } else {
        let chunk: string[] = [];
        for (const rec of simulate(options)) {
          chunk.push(recordToNdjson(rec));
          if (rec.type === 'event') counts.events++;
          else counts.bad++;
          if (chunk.length >= 1000) {
            if (!out.write(`${chunk.join('\n')}\n`)) await new Promise<void>((r) => out.once('drain', () => r()));
            chunk = [];
          }
        }
        if (chunk.length > 0) out.write(`${chunk.join('\n')}\n`);
        await new Promise<void>((resolve) => out.end(() => resolve()));
      }
      const secs = (performance.now() - started) / 1000;
      process.stderr.write(
        `wrote ${counts.events} events${counts.bad ? ` and ${counts.bad} defective records` : ''} to ${outFile} in ${secs.toFixed(1)} s` +
          (counts.skipped ? ` (${counts.skipped} defective records not representable in Avro were skipped)` : '') +
          '\n',
      );
    });
  return cmd;
}

/** Produces the simulated stream to the config's first activity topic, keyed by customer. */
export async function simulateToKafka(options: SimulatorOptions, configFile?: string): Promise<void> {
  const config = loadConfig(configFile ? { file: configFile } : {});
  const topic = config.kafka.topics.activity[0]!;
  const pool = new KafkaProducerPool({ brokers: config.kafka.brokers, ssl: config.kafka.ssl, sasl: config.kafka.sasl, clientId: `${config.kafka.clientId}-simulator` });
  const registry = registryClientFromConfig(config.schemaRegistry);
  const started = performance.now();
  try {
    if (config.kafka.createTopics.enabled) await ensureTopics(config.kafka, [topic], config.kafka.createTopics.partitions);
    const codec = new ActivityCodec();
    const counts = await produceActivity(simulate(options), {
      pool,
      topic,
      format: config.kafka.format,
      encoder: activityEventEncoder({ registry, topic, autoRegister: config.schemaRegistry.autoRegister }, codec),
      codec,
    });
    const corrupt = Object.entries(counts.corrupt).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ');
    process.stderr.write(
      `produced ${counts.events} events to ${topic} in ${((performance.now() - started) / 1000).toFixed(1)} s` +
        (counts.invalid ? `, ${counts.invalid} records with invalid values` : '') +
        (corrupt ? `, corrupt records: ${corrupt}` : '') +
        '\n',
    );
  } finally {
    await pool.close();
    await registry.close();
  }
}
