// NDJSON to standard output, for piping risk events into other tools.
import { toJsonLine, type RecordSink } from './record-sink.js';

export function createStdoutSink<T>(stream: NodeJS.WritableStream = process.stdout): RecordSink<T> {
  const write = (chunk: string) =>
    new Promise<void>((resolve, reject) => {
      stream.write(chunk, (err) => (err ? reject(err) : resolve()));
    });
  return {
    name: 'stdout',
    async write(records) {
      if (records.length > 0) await write(records.map(toJsonLine).join(''));
    },
    async flush() {},
    async close() {},
  };
}
