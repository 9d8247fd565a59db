// A history file as every command reads it: the file source and the decoder chosen by the one
// decoder factory under the config's `input` section (mappings, declared kinds). replay, snapshot,
// backtest, score-all and `run` with source.kind=file all open files here.
import type { InputMappingConfig } from '../serde/input-mapping.js';
import { decoderFor, type InputDecoder } from '../serde/decoder-for.js';
import type { Clock } from '../time/clock.js';
import { createFileSource, type FileSourceOptions } from './file-source.js';
import type { RecordSource } from './record-source.js';

export interface FileInput {
  readonly source: RecordSource;
  readonly decoder: InputDecoder;
}

export function openFileInput(input: InputMappingConfig, path: string, clock: Clock): FileInput {
  return { source: createFileSource(path, clock, fileSourceOptions(input)), decoder: decoderFor(input, { kind: 'file', path }) };
}

/** A mapping without topics claims the file's records: hand it Avro values in their plain (JSON-like) form. */
export function fileSourceOptions(input: InputMappingConfig): FileSourceOptions {
  return { avroValues: input.mappings.some((m) => m.topics === undefined) ? 'plain' : 'wrapped' };
}
