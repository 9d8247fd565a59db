// TLS settings of one connection (config tlsSchema) as Node's tls options: the PEM files are read
// here, at start-up, so a missing or unreadable file fails with the key that names it.
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { ChurnflowError } from '../errors.js';

export interface TlsConfig {
  readonly enabled?: boolean | undefined;
  readonly caFile?: string | undefined;
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
  readonly servername?: string | undefined;
  readonly rejectUnauthorized: boolean;
}

/**
 * Node tls options for `tls` (config key `key`), or undefined when TLS is off. TLS is on when
 * `enabled` says so, else when a CA, certificate, key or servername is given (a CA nobody uses
 * would be a silent plaintext connection), or when `forceOn` (a rediss:// or https:// URL).
 */
export function tlsOptions(tls: TlsConfig | undefined, key: string, forceOn = false): ConnectionOptions | undefined {
  if (!tls) return forceOn ? {} : undefined;
  const configured = [tls.caFile, tls.certFile, tls.keyFile, tls.servername].some((v) => v !== undefined);
  if (!(forceOn || (tls.enabled ?? configured))) return undefined;
  const pem = (file: string | undefined, name: string): string | undefined => {
    if (file === undefined) return undefined;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ChurnflowError('CF_CONFIG_INVALID', `${key}.${name}: cannot read ${file} (${(err as { code?: string }).code ?? 'unreadable'})`, { details: { key: `${key}.${name}` } });
    }
    // Never quote the content: a key file is a secret.
    if (!text.includes('-----BEGIN ')) throw new ChurnflowError('CF_CONFIG_INVALID', `${key}.${name}: ${file} is not PEM (no -----BEGIN line)`, { details: { key: `${key}.${name}` } });
    return text;
  };
  const ca = pem(tls.caFile, 'caFile');
  const cert = pem(tls.certFile, 'certFile');
  const keyPem = pem(tls.keyFile, 'keyFile');
  return {
    rejectUnauthorized: tls.rejectUnauthorized,
    ...(ca !== undefined ? { ca } : {}),
    ...(cert !== undefined ? { cert } : {}),
    ...(keyPem !== undefined ? { key: keyPem } : {}),
    ...(tls.servername !== undefined ? { servername: tls.servername } : {}),
  };
}
