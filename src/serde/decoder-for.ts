// The one decoder factory of every command and the engine: given the `input` config section (input
// mappings, declared kinds) and where records come from (a file and its format, or Kafka), the
// RecordDecoder that reads them. Files and topics thus honour the same mapping; a command cannot
// forget it (docs/input-mapping.md).
import { extname } from 'node:path';
import { ChurnflowError } from '../errors.js';
import { ActivityCodec } from './activity-codec.js';
import { compileMappings, MappedDecoder, type InputMappingConfig } from './input-mapping.js';
import type { RecordDecoder } from './record-decoder.js';
import { RegistryActivityDecoder, type RegistryDecoderOptions } from './registry-decoder.js';

export type InputFileFormat = 'ndjson' | 'csv' | 'avro';

/** A decoder that can say, at the end of a finite input, whether its mappings mapped anything (throws CF_MAPPING_NO_MATCH). */
export interface InputDecoder extends RecordDecoder {
  finish?(): void;
}

/** The format of an input file, by its extension: .avro → Avro container, .csv → CSV with a header row, anything else → NDJSON. */
export function fileFormatOf(path: string): InputFileFormat {
  const ext = extname(path).toLowerCase();
  return ext === '.avro' ? 'avro' : ext === '.csv' ? 'csv' : 'ndjson';
}

export type DecoderSource =
  /** The simulator writes churnflow's own events: mappings don't apply. */
  | { readonly kind: 'simulator' }
  | { readonly kind: 'file'; readonly path: string }
  | {
      readonly kind: 'kafka';
      readonly format: 'json' | 'avro' | 'confluent-avro';
      /** The registry decoder's options but the input section; called only when it is needed. */
      readonly registry: () => Omit<RegistryDecoderOptions, 'input'>;
    };

/** The decoder for records from `source` under the `input` section. */
export function decoderFor(input: InputMappingConfig, source: DecoderSource): InputDecoder {
  const codec = new ActivityCodec(undefined, { kinds: input.kinds });
  if (source.kind === 'simulator') return codec;
  if (source.kind === 'kafka') {
    if (source.format !== 'confluent-avro' && input.mappings.length === 0) return codec;
    return new RegistryActivityDecoder({ ...source.registry(), input });
  }
  const format = fileFormatOf(source.path);
  if (input.mappings.length === 0) {
    // CSV rows are flat text: there is no native CSV form of an activity event to fall back on.
    if (format === 'csv') throw new ChurnflowError('CF_CONFIG_INVALID', `input.mappings: ${source.path} is a CSV file, which churnflow reads only through an input mapping (a mapping without 'topics'; see docs/input-mapping.md); none is configured (give --config)`);
    return codec;
  }
  return new MappedDecoder(compileMappings(input, codec), undefined, codec, { noMatchLimit: input.noMatchLimit });
}

/** At the end of a finite input (a file, a bounded Kafka replay): fails loudly if a mapping mapped nothing. */
export function finishDecoding(decoder: InputDecoder): void {
  decoder.finish?.();
}
