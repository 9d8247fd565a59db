// Keeps secrets out of error messages and log lines: the password in a URL's userinfo, and the value
// of any key named like a credential (password, secret, token, sasl, auth, api key, private key).
// Applied to what config errors quote and to every log line (observability/logger.ts). The secret
// values the config holds are also remembered, so one a library quotes in an error message (a
// password inside a connection string, a token echoed back) is replaced wherever it appears.

export const REDACTED = '***';

/** Key names whose values are secrets, whole subtree included (e.g. a `sasl` block). */
const SECRET_KEY = /pass(word|wd|phrase)?$|secret|token|sasl|credential|api[-_]?key|private[-_]?key|^auth(orization)?$|^key$/i;

// scheme://user:password@  or  scheme://token@  (a lone userinfo part is often a token, so it goes too).
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/@:]*)(?::([^\s/@]*))?@/gi;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/** Values shorter than this are not remembered: replacing every "abc" in every log line would garble it, and such a secret is no secret. */
const MIN_REMEMBERED_LENGTH = 6;
const knownSecrets = new Set<string>();

/**
 * Remembers the string values of secret-named keys in a (loaded) config, so redactText replaces
 * them wherever they appear. Called by loadConfig; the set only grows (a process holds few configs).
 */
export function rememberSecretValues(value: unknown, seen = new WeakSet<object>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  for (const [k, v] of Object.entries(value)) {
    if (typeof v === 'string' && isSecretKey(k) && v.length >= MIN_REMEMBERED_LENGTH) knownSecrets.add(v);
    else rememberSecretValues(v, seen);
  }
}

/** `redis://user:secret@host` → `redis://user:***@host`; `https://token@host` → `https://***@host`; any remembered secret → `***`. */
export function redactText(text: string): string {
  let out = text.replace(URL_USERINFO, (_m, scheme: string, user: string, password: string | undefined) =>
    password === undefined ? `${scheme}${REDACTED}@` : `${scheme}${user}:${REDACTED}@`,
  );
  for (const s of knownSecrets) if (out.includes(s)) out = out.split(s).join(REDACTED);
  return out;
}

/** A copy with every secret-named key's value replaced and every string's URL userinfo redacted. */
export function redactSecrets(value: unknown, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, seen));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = isSecretKey(k) ? REDACTED : redactSecrets(v, seen);
  return out;
}

/** True when any segment of a config path names a secret (its value must never be quoted). */
export function isSecretPath(path: readonly PropertyKey[]): boolean {
  return path.some((k) => typeof k === 'string' && isSecretKey(k));
}
