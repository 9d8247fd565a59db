// Replays a file of activity records: NDJSON (one event per line), an Avro container file (.avro) or
// CSV with a header row (.csv: each row an object of its cells, for an input mapping to read). The
// position is the line / record number, so a replay's state changes are idempotent like Kafka's.
import { accessSync, constants, createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import avro from 'avsc';
import { parse } from 'csv-parse';
import type { Observable } from 'rxjs';
import type { RawRecord } from '../events/activity-event.js';
import { ChurnflowError, errorMessage } from '../errors.js';
import { fileFormatOf } from '../serde/decoder-for.js';
import { plain } from '../serde/registry-decoder.js';
import type { Clock } from '../time/clock.js';
import type { FlowControl } from './flow-control.js';
import { iterateUnderFlowControl, type RecordSource } from './record-source.js';

export interface FileSourceOptions {
  /**
   * Avro container records as churnflow's codec reads them ('wrapped' unions, the default), or as
   * plain JSON-like values ('plain': unions unwrapped, longs as numbers) for an input mapping, so a
   * mapping reads a user's Avro file exactly like its JSON form.
   */
  readonly avroValues?: 'wrapped' | 'plain';
}

export function createFileSource(path: string, clock: Clock, options: FileSourceOptions = {}): RecordSource {
  let stopped = false;
  let total = 0;
  let stream_: { bytesRead: number } | undefined;
  const stream = `file:${basename(path)}`;
  async function* ndjson(): AsyncIterable<RawRecord> {
    total = readableSize(path);
    const input = createReadStream(path, { encoding: 'utf8' });
    stream_ = input;
    const lines = createInterface({ input, crlfDelay: Infinity });
    let offset = 0;
    for await (const line of lines) {
      const position = { stream, offset: offset++ };
      if (line.trim().length === 0) continue;
      yield { position, format: 'json', value: line, receivedAt: clock.now() };
    }
  }
  async function* container(): AsyncIterable<RawRecord> {
    readableSize(path); // before the decoder opens it: its stream's error would be unhandled
    // Read with the writer's schema as stored in the file; unions wrapped like the codec expects.
    let writer: avro.Type | undefined;
    const parseHook = (schema: avro.Schema) => (writer = avro.Type.forSchema(schema, { wrapUnions: true }));
    const decoder = avro.createFileDecoder(path, { readerSchema: undefined, parseHook } as never);
    const plainValues = options.avroValues === 'plain';
    let offset = 0;
    for await (const value of decoder as AsyncIterable<unknown>) {
      yield { position: { stream, offset: offset++ }, format: 'avro-object', value: plainValues && writer ? plain(writer, value) : value, receivedAt: clock.now() };
    }
  }
  async function* csv(): AsyncIterable<RawRecord> {
    total = readableSize(path);
    const input = createReadStream(path);
    stream_ = input;
    // Cells stay text (the mapping converts what it needs); an empty cell is a missing value, so a rule's default applies.
    const rows = input.pipe(parse({ columns: true, bom: true, skip_empty_lines: true, trim: true, relax_column_count: true }));
    let offset = 0;
    try {
      for await (const row of rows as AsyncIterable<Record<string, string>>) {
        const value: Record<string, string> = {};
        for (const [k, v] of Object.entries(row)) if (v !== '') value[k] = v;
        yield { position: { stream, offset: offset++ }, format: 'json-object', value, receivedAt: clock.now() };
      }
    } catch (err) {
      // A broken quote makes the rest of the file unreadable as rows: fail the run, saying where.
      throw new ChurnflowError('CF_INPUT_INVALID', `${path}: not readable as CSV after record ${offset}: ${errorMessage(err)}`, { cause: err });
    }
  }
  const format = fileFormatOf(path);
  return {
    name: stream,
    records: (flow: FlowControl): Observable<RawRecord> => iterateUnderFlowControl(format === 'avro' ? container : format === 'csv' ? csv : ndjson, flow, () => stopped),
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

/**
 * The input's size, checked before a read stream opens it: a stream that fails to open emits an
 * 'error' nobody listens to yet (the process crashed with ENOENT). A missing or unreadable file is
 * the caller's input, so it fails the run with a coded error naming the file. A pipe (`-i /dev/stdin`,
 * `<(zcat events.ndjson.gz)`) is read like a file; its size is 0, so no share done is shown.
 */
function readableSize(path: string): number {
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new Error('a directory, not a file');
    accessSync(path, constants.R_OK);
    return st.size;
  } catch (err) {
    throw new ChurnflowError('CF_INPUT_INVALID', `cannot read the input file ${path}: ${errorMessage(err)}`, { cause: err });
  }
}
