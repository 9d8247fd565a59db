// The Schema Registry client as config `schemaRegistry` describes it (URL, TLS, basic auth): every
// command and the engine build theirs here, so a CA or a password cannot be missed on one path.
import type { ChurnflowConfig } from '../config/config-schema.js';
import { tlsOptions } from '../config/tls-options.js';
import { RegistryClient, type RegistryClientConfig } from './registry-client.js';

export function registryClientFromConfig(sr: ChurnflowConfig['schemaRegistry'], extra: Omit<RegistryClientConfig, 'url' | 'tls' | 'basicAuth'> = {}): RegistryClient {
  const tls = tlsOptions(sr.tls, 'schemaRegistry.tls', sr.url.startsWith('https:'));
  const auth = sr.basicAuth?.password !== undefined ? { username: sr.basicAuth.username, password: sr.basicAuth.password } : undefined;
  return new RegistryClient({ ...extra, url: sr.url, ...(tls ? { tls } : {}), ...(auth ? { basicAuth: auth } : {}) });
}
