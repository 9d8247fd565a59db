// pino JSON logs; each stage takes a child logger with its name. Secrets never reach a log line.
import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream; name?: string } = {}): Logger {
  const opts: LoggerOptions = {
    name: options.name ?? 'churnflow',
    level: options.level ?? 'info',
    redact: { paths: ['*.password', '*.sasl', '*.secret', '*.token', 'config.kafka.sasl', 'config.schemaRegistry.auth'], censor: '[redacted]' },
    base: { pid: process.pid },
  };
  return options.destination ? pino(opts, options.destination as never) : pino(opts, pino.destination({ dest: 2, sync: false }));
}
