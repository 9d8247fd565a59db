// Writes records to a file: NDJSON, or an Avro container file (with the record's schema) when the
// path ends in .avro. Resolves writes only after the data reached the OS, so acks mean something.
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import avro from 'avsc';
import { ChurnflowError } from '../errors.js';
import { avroType, type SchemaName } from '../serde/schemas.js';
import { toJsonLine, type RecordSink } from './record-sink.js';

export function createFileSink<T>(path: string, schema: SchemaName): RecordSink<T> {
  mkdirSync(dirname(path), { recursive: true });
  const out: WriteStream = createWriteStream(path, { flags: 'w' });
  let failure: Error | undefined;
  out.on('error', (err) => {
    failure = err;
  });
  const isAvro = path.endsWith('.avro');
  const encoder = isAvro ? new avro.streams.BlockEncoder(avroType(schema), { codec: 'null' }) : undefined;
  if (encoder) encoder.pipe(out);

  const check = () => {
    if (failure) throw new ChurnflowError('CF_SINK_FAILED', `writing ${path} failed: ${failure.message}`, { cause: failure });
  };
  const writeChunk = (chunk: string) =>
    new Promise<void>((resolve, reject) => {
      out.write(chunk, (err) => (err ? reject(new ChurnflowError('CF_SINK_FAILED', `writing ${path} failed: ${err.message}`, { cause: err })) : resolve()));
    });

  return {
    name: `file:${path}`,
    async write(records) {
      check();
      if (records.length === 0) return;
      if (encoder) {
        for (const r of records) encoder.write(r);
        return;
      }
      await writeChunk(records.map(toJsonLine).join(''));
    },
    async flush() {
      check();
      if (!encoder) await writeChunk('');
    },
    async close() {
      await new Promise<void>((resolve) => {
        if (encoder) {
          out.once('finish', () => resolve());
          out.once('close', () => resolve());
          encoder.end();
        } else {
          out.end(() => resolve());
        }
      });
      check();
    },
  };
}
