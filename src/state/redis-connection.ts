// Connection options of every Redis client churnflow opens (state store, alias store, start-up
// check) from config state.redis: TLS (on for rediss:// URLs or tls.enabled) and ACL credentials.
import type { RedisOptions } from 'ioredis';
import { tlsOptions, type TlsConfig } from '../config/tls-options.js';

export interface RedisConnectionConfig {
  readonly url: string;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  readonly tls?: TlsConfig | undefined;
}

/** ioredis options to merge over the defaults; the PEM files are read now (a missing file names its key). */
export function redisConnectionOptions(redis: RedisConnectionConfig, key = 'state.redis'): RedisOptions {
  const tls = tlsOptions(redis.tls, `${key}.tls`, /^rediss:/i.test(redis.url));
  return {
    ...(tls ? { tls } : {}),
    ...(redis.username !== undefined ? { username: redis.username } : {}),
    ...(redis.password !== undefined ? { password: redis.password } : {}),
  };
}
