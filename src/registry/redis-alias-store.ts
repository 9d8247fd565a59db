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
  /** Or seed nodes (`host:port`) of a Redis Cluster (config state.redis.cluster.nodes); the store owns that client. */
  readonly clusterNodes?: readonly string[];
  /** Or an existing client (standalone or Cluster); the caller keeps owning it. */
  readonly redis?: Redis | Cluster;
  readonly redisOptions?: RedisOptions;
  /** Cluster only: a promote is acknowledged once this many replicas have it (WAIT). 0: no WAIT. Default 1. */
  readonly waitReplicas?: number;
  /** How long that WAIT may block. Default 1000. */
  readonly waitTimeoutMs?: number;
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
  private readonly wait: { readonly replicas: number; readonly timeoutMs: number } | undefined;
  private closed = false;

  constructor(options: RedisAliasStoreOptions) {
    this.prefix = options.keyPrefix ?? 'cf:';
    if (/[{}]/.test(this.prefix)) {
      throw new ChurnflowError('CF_CONFIG_INVALID', `redis key prefix must not contain '{' or '}' (the store adds the hash tag), got ${JSON.stringify(this.prefix)}`);
    }
    this.clock = options.clock ?? systemClock;
    ({ client: this.client, owns: this.ownsClient } = redisClient(options, 'redis alias store'));
    this.client.defineCommand('churnflowAliasCas', { lua: ALIAS_CAS_LUA, numberOfKeys: 1 });
    const replicas = options.waitReplicas ?? 1;
    this.wait = this.client instanceof Cluster && replicas > 0 ? { replicas, timeoutMs: options.waitTimeoutMs ?? 1000 } : undefined;
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
      written = await this.compareAndSet(key, raw ?? '', serializeAliasState(next));
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

  /**
   * The CAS script; on a Cluster followed by WAIT in the same pipeline (so on the same connection as
   * the write): a promote a failover could still lose is reported as failed (retriable), never as done.
   */
  private async compareAndSet(key: string, expected: string, next: string): Promise<number> {
    if (!this.wait) return (this.client as unknown as CasCommands).churnflowAliasCas(key, expected, next);
    const p = this.client.pipeline();
    (p as unknown as CasCommands).churnflowAliasCas(key, expected, next);
    p.wait(this.wait.replicas, this.wait.timeoutMs);
    const res = (await p.exec()) ?? [];
    const [casErr, written] = res[0] ?? [new Error('missing CAS reply'), undefined];
    const [waitErr, acked] = res[1] ?? [new Error('missing WAIT reply'), undefined];
    if (casErr) throw casErr;
    if (waitErr) throw waitErr;
    if (written === 1 && (typeof acked !== 'number' || acked < this.wait.replicas)) {
      throw new ChurnflowError('CF_ALIAS_STORE_FAILED', `redis alias store (${key}): the change is on the master but ${String(acked)} of ${this.wait.replicas} replica(s) acknowledged it within ${this.wait.timeoutMs} ms; read the aliases again before retrying`, { retriable: true });
    }
    return written as number;
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
