// Start-up check of the Schema Registry: one GET (the subject list). Refused credentials (401/403)
// and TLS problems are configuration errors naming the key (never the password); unreachable is a warning.
import { redactText } from '../config/redact-secrets.js';
import { ChurnflowError } from '../errors.js';
import { RegistryError, type RegistryClient } from '../serde/registry-client.js';
import { classifyStartupError, type StartupProblem } from './startup-problem.js';

export async function checkRegistry(registry: RegistryClient, key: string): Promise<StartupProblem | undefined> {
  try {
    await registry.subjects();
    return undefined;
  } catch (err) {
    if (err instanceof RegistryError && (err.status === 401 || err.status === 403)) {
      throw new ChurnflowError('CF_CONFIG_INVALID', `${key}: the schema registry at ${redactText(registry.url)} refused the credentials (HTTP ${err.status}): set them in the URL (https://user:password@host/...)`, { details: { key, problem: 'credentials' } });
    }
    const cause = socketError(err);
    const problem = classifyStartupError(cause);
    if (problem.kind === 'tls') throw new ChurnflowError('CF_CONFIG_INVALID', `${key}: the schema registry at ${redactText(registry.url)} failed the TLS handshake (${problem.detail})`, { details: { key, problem: 'tls' } });
    return problem;
  }
}

/** The innermost cause (RegistryError → the HTTP client's error → the socket's), whose `code` says what failed. */
function socketError(err: unknown): unknown {
  let e = err;
  for (let depth = 0; depth < 4; depth++) {
    const next = (e as { cause?: unknown } | null)?.cause;
    if (next === undefined || next === null) break;
    e = next;
  }
  return e;
}
