// The one Schema Registry client of a run (decoder lookups and sink encoders share its caches), built
// from config on first use and owned by the App.
import type { ChurnflowConfig } from '../config/config-schema.js';
import type { RegistryClient } from '../serde/registry-client.js';
import { registryClientFromConfig } from '../serde/registry-from-config.js';
import type { Owner } from './owner.js';

export function lazyRegistryClient(config: Readonly<ChurnflowConfig>, owner: Owner): () => RegistryClient {
  let client: RegistryClient | undefined;
  return () => (client ??= owner.own('schema-registry', registryClientFromConfig(config.schemaRegistry, { maxCachedIds: config.schemaRegistry.cache.maxCachedIds }), (r) => r.close()));
}
