// `churnflow simulate`: writes a simulated activity stream as NDJSON or an Avro container file.
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import avro from 'avsc';
import { Command } from 'commander';
import { ActivityCodec } from '../serde/activity-codec.js';
import { avroType } from '../serde/schemas.js';
import { simulate, recordToNdjson } from '../simulator/index.js';
import { addSimulatorFlags, simulatorOptionsFrom, type SimulatorFlags } from './common.js';

export function simulateCommand(): Command {
  const cmd = new Command('simulate').description('generate a simulated customer activity stream (deterministic per seed)');
  addSimulatorFlags(cmd, { customers: 2000, days: 120 })
    .requiredOption('-o, --out <file>', 'output file: .ndjson, or .avro for an Avro container file (defective records are NDJSON-only)')
    .action(async (flags: SimulatorFlags & { out: string }) => {
      const options = simulatorOptionsFrom(flags);
      await mkdir(dirname(flags.out), { recursive: true });
      const out = createWriteStream(flags.out);
      const counts = { events: 0, bad: 0, skipped: 0 };
      const started = performance.now();
      if (flags.out.endsWith('.avro')) {
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
        `wrote ${counts.events} events${counts.bad ? ` and ${counts.bad} defective records` : ''} to ${flags.out} in ${secs.toFixed(1)} s` +
          (counts.skipped ? ` (${counts.skipped} defective records not representable in Avro were skipped)` : '') +
          '\n',
      );
    });
  return cmd;
}
