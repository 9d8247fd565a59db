// Replays a file of activity records: NDJSON (one event per line) or an Avro container file (.avro).
// The position is the line / record number, so a replay's state changes are idempotent like Kafka's.
import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import avro from 'avsc';
import type { Observable } from 'rxjs';
import type { RawRecord } from '../events/activity-event.js';
import type { Clock } from '../time/clock.js';
import type { FlowControl } from './flow-control.js';
import { iterateUnderFlowControl, type RecordSource } from './record-source.js';

export function createFileSource(path: string, clock: Clock): RecordSource {
  let stopped = false;
  let total = 0;
  let stream_: { bytesRead: number } | undefined;
  const stream = `file:${basename(path)}`;
  async function* ndjson(): AsyncIterable<RawRecord> {
    const input = createReadStream(path, { encoding: 'utf8' });
    stream_ = input;
    total = statSync(path).size;
    const lines = createInterface({ input, crlfDelay: Infinity });
    let offset = 0;
    for await (const line of lines) {
      const position = { stream, offset: offset++ };
      if (line.trim().length === 0) continue;
      yield { position, format: 'json', value: line, receivedAt: clock.now() };
    }
  }
  async function* container(): AsyncIterable<RawRecord> {
    // Read with the writer's schema as stored in the file; unions wrapped like the codec expects.
    const decoder = avro.createFileDecoder(path, { readerSchema: undefined, parseHook: (schema: avro.Schema) => avro.Type.forSchema(schema, { wrapUnions: true }) } as never);
    let offset = 0;
    for await (const value of decoder as AsyncIterable<unknown>) {
      yield { position: { stream, offset: offset++ }, format: 'avro-object', value, receivedAt: clock.now() };
    }
  }
  return {
    name: stream,
    records: (flow: FlowControl): Observable<RawRecord> => iterateUnderFlowControl(path.endsWith('.avro') ? container : ndjson, flow, () => stopped),
    commit: async () => {},
    progress: () => (stream_ ? { done: stream_.bytesRead, total } : undefined),
    stop: () => {
      stopped = true;
    },
    close: async () => {
      stopped = true;
    },
  };
}
