// Loads the Avro schemas in schemas/ once; every codec and the registry commands use these types.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import avro from 'avsc';

const here = dirname(fileURLToPath(import.meta.url));
/** schemas/ at the package root (this file compiles to dist/src/serde/). */
export const SCHEMA_DIR = [join(here, '..', '..', '..', 'schemas'), join(here, '..', '..', 'schemas')].find((d) => {
  try {
    readFileSync(join(d, 'activity-event.avsc'));
    return true;
  } catch {
    return false;
  }
}) ?? join(here, '..', '..', '..', 'schemas');

export type SchemaName = 'activity-event' | 'risk-event' | 'current-risk' | 'drift-metric' | 'dead-letter';
export const SCHEMA_NAMES: readonly SchemaName[] = ['activity-event', 'risk-event', 'current-risk', 'drift-metric', 'dead-letter'];

const cache = new Map<SchemaName, avro.Type>();

export function schemaJson(name: SchemaName): Record<string, unknown> {
  return JSON.parse(readFileSync(join(SCHEMA_DIR, `${name}.avsc`), 'utf8')) as Record<string, unknown>;
}

/**
 * The avsc type of a schema. The activity event keeps unions wrapped ({"io.churnflow.events.Login": {...}})
 * so the payload branch (the kind) is explicit; output records use plain values for nullable fields.
 */
export function avroType(name: SchemaName): avro.Type {
  let t = cache.get(name);
  if (!t) {
    t = avro.Type.forSchema(schemaJson(name) as avro.Schema, { wrapUnions: name === 'activity-event' ? true : 'auto' });
    cache.set(name, t);
  }
  return t;
}
