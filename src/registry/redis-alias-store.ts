// AliasStore in Redis, shared by every host: one string key per model, `<prefix>model:{<name>}` (the
// hash tag keeps it Cluster-safe should more keys per model ever be added), holding the state as JSON.
// update() reads the state, computes the next one (applyAliasChange) and writes it with a Lua
// compare-and-set on the exact stored value: if any other client wrote in between, nothing is written
// and the caller gets CF_ALIAS_CONFLICT. Redis runs a script atomically, so of concurrent promotes from
// any number of hosts exactly one applies.
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { ChurnflowError, errorMessage } from '../errors.js';
import { redisClient } from '../state/redis-store.js';
import { systemClock, type Clock } from '../time/clock.js';
import {
  aliasConflict,
  applyAliasChange,
  checkModelName,
  emptyAliasState,
  parseAliasState,
  serializeAliasState,
  type AliasChangeRequest,
  type AliasState,
  type AliasStore,
} from './alias-store.js';

export interface RedisAliasStoreOptions {
  /** Redis URL; the store creates (and on close() quits) its own client. */
  readonly url?: string;
  /** Or an existing client (standalone or Cluster); the caller keeps owning it. */
  readonly redis?: Redis | Cluster;
  readonly redisOptions?: RedisOptions;
  /** Prepended to every key (config state.redis.keyPrefix); no '{' or '}'. Default 'cf:'. */
  readonly keyPrefix?: string;
  readonly clock?: Clock;
  readonly onConnectionError?: (err: Error) => void;
}

/**
 * KEYS[1] the model's key; ARGV[1] the value the client read ('' = no key), ARGV[2] the new value.
 * Returns 1 if written, 0 if the stored value is no longer the one read.
 */
export const ALIAS_CAS_LUA = `
local cur = redis.call('GET', KEYS[1])
if cur == false then cur = '' end
if cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
`;

interface CasCommands {
  churnflowAliasCas(key: string, expected: string, next: string): Promise<number>;
}

export class RedisAliasStore implements AliasStore {
  readonly kind = 'redis' as const;
  private readonly client: Redis | Cluster;
  private readonly ownsClient: boolean;
  private readonly prefix: string;
  private readonly clock: Clock;
  private closed = false;

  constructor(options: RedisAliasStoreOptions) {
    this.prefix = options.keyPrefix ?? 'cf:';
    if (/[{}]/.test(this.prefix)) {
      throw new ChurnflowError('CF_CONFIG_INVALID', `redis key prefix must not contain '{' or '}' (the store adds the hash tag), got ${JSON.stringify(this.prefix)}`);
    }
    this.clock = options.clock ?? systemClock;
    ({ client: this.client, owns: this.ownsClient } = redisClient(options, 'redis alias store'));
    this.client.defineCommand('churnflowAliasCas', { lua: ALIAS_CAS_LUA, numberOfKeys: 1 });
  }

  /** `<prefix>model:{<name>}` */
  keyOf(name: string): string {
    return `${this.prefix}model:{${checkModelName(name)}}`;
  }

  async read(name: string): Promise<AliasState> {
    return (await this.readRaw(name)).state;
  }

  async update(name: string, expectedRevision: number, change: AliasChangeRequest): Promise<AliasState> {
    const key = this.keyOf(name);
    const { raw, state } = await this.readRaw(name);
    if (state.revision !== expectedRevision) throw aliasConflict(name, expectedRevision, state.revision);
    const next = applyAliasChange(state, change, this.clock.now());
    let written: number;
    try {
      written = await (this.client as unknown as CasCommands).churnflowAliasCas(key, raw ?? '', serializeAliasState(next));
    } catch (err) {
      throw redisAliasError(err, key);
    }
    if (written !== 1) throw aliasConflict(name, expectedRevision, null);
    return next;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.ownsClient) return;
    if (this.client.status !== 'ready') {
      this.client.disconnect(); // not connected: QUIT would wait in the offline queue
      return;
    }
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }

  private async readRaw(name: string): Promise<{ raw: string | null; state: AliasState }> {
    if (this.closed) throw new ChurnflowError('CF_LIFECYCLE', 'redis alias store is closed');
    const key = this.keyOf(name);
    let raw: string | null;
    try {
      raw = await this.client.get(key);
    } catch (err) {
      throw redisAliasError(err, key);
    }
    return { raw, state: raw === null ? emptyAliasState(name) : parseAliasState(raw, name, `redis key ${key}`) };
  }
}

/** Connection trouble → retriable; a reply error (wrong type, script error) → not. */
export function redisAliasError(err: unknown, key: string): ChurnflowError {
  if (err instanceof ChurnflowError) return err;
  const message = errorMessage(err);
  const isReply = err instanceof Error && err.name === 'ReplyError';
  const retriable = !isReply || /^(LOADING|BUSY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|READONLY|NOREPLICAS|OOM|MOVED|ASK)\b/.test(message);
  return new ChurnflowError('CF_ALIAS_STORE_FAILED', `redis alias store (${key}): ${message}`, { cause: err, retriable });
}
