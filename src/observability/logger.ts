// pino JSON logs; each stage takes a child logger with its name. Secrets never reach a log line:
// secret-named keys (password, sasl, token, …) at any depth, URL passwords in any string, in the
// message and in serialized errors (config/redact-secrets.ts).
import { pino, stdSerializers, type Logger, type LoggerOptions } from 'pino';
import { isSecretKey, REDACTED, redactSecrets, redactText } from '../config/redact-secrets.js';

export type { Logger };

export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream; name?: string; /** The engine's instance id (metrics label), on every line. */ instance?: string } = {}): Logger {
  const opts: LoggerOptions = {
    name: options.name ?? 'churnflow',
    level: options.level ?? 'info',
    formatters: { log: redactLogObject },
    serializers: { err: (err: Error) => redactSecrets(stdSerializers.err(err)) as ReturnType<typeof stdSerializers.err> },
    hooks: {
      logMethod(args, method) {
        method.apply(this, args.map((a) => (typeof a === 'string' ? redactText(a) : a)) as Parameters<typeof method>);
      },
    },
    base: options.instance === undefined ? { pid: process.pid } : { pid: process.pid, instance: options.instance },
  };
  return options.destination ? pino(opts, options.destination as never) : pino(opts, pino.destination({ dest: 2, sync: false }));
}

/** Errors are left to the err serializer (which keeps message and stack, redacted); the rest is redacted here. */
function redactLogObject(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) out[k] = isSecretKey(k) ? REDACTED : v instanceof Error ? v : redactSecrets(v);
  return out;
}
