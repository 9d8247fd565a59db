// Which start-up failures are configuration errors (wrong credentials, TLS set-up) rather than an
// outage: those fail start-up with CF_CONFIG_INVALID; an unreachable service is left to the retries.

/** Node/OpenSSL codes of a TLS handshake or certificate problem: a retry cannot fix them. */
const TLS_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  // The server refused our client certificate (or that we sent none), alert 42/48/116.
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
  'EPROTO',
]);

export type StartupProblem = { readonly kind: 'credentials' | 'tls'; readonly detail: string } | { readonly kind: 'unreachable'; readonly detail: string };

/** Classifies an error met while connecting (code and first line of the message; never a URL). */
export function classifyStartupError(err: unknown): StartupProblem {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (/^(NOAUTH|WRONGPASS)\b|invalid password|invalid username-password/i.test(message)) return { kind: 'credentials', detail: message.split(' ')[0]! };
  if (code && TLS_CODES.has(code)) return { kind: 'tls', detail: code };
  return { kind: 'unreachable', detail: code ?? message.split('\n')[0]!.slice(0, 120) };
}
