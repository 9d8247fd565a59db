// Redis state store: production's StateStore. One hash per customer, `<prefix>{c:<id>}` (the hash tag
// keeps a customer in one cluster slot): the binary state (src/state/codec/customer-codec.ts, format 2,
// named by the layout of the store's feature spec, which the store registers once at
// `<prefix>layout:<fingerprint>` so engines with another spec can read it) in field `b`, each outbox
// entry in a field of its own, the version in `v`. A micro-batch costs two pipelined round
// trips: `load` (one HGETALL per customer) and `write` (one Lua call per customer,
// src/state/lua/commit-state-1.lua, that writes the changed fields only if the customer's version is
// still the one loaded). The transition runs in TypeScript between the two (stage-deltas.ts), exactly
// as on the memory store. On a Redis Cluster each round trip is one pipeline per master, and a write is
// acknowledged only once `waitReplicas` replicas have it (WAIT). Layout, memory figures and operations:
// docs/architecture.md, "Redis state store" and "Redis Cluster".
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import calculateSlot from 'cluster-key-slot';
import { Cluster, Redis, type ChainableCommander, type ClusterNode, type ClusterOptions, type RedisOptions } from 'ioredis';
import { ChurnflowError, errorMessage } from '../errors.js';
import { emptyState, type CustomerState, type DedupeOptions, type StateDelta, type StateLayout } from './customer-state.js';
import { decodeCustomer, encodeCustomer } from './codec/customer-codec.js';
import { decodeLegacyHash, isLegacyHash } from './codec/legacy-hash.js';
import { formatError } from './codec/byte-io.js';
import { fingerprintHex, layoutInfo, layoutText, parseLayoutText, type LayoutResolver, type LayoutSlots } from './codec/layout-fingerprint.js';
import { applyDeltas } from './stage-deltas.js';
import type { ApplyResult, CustomerWrite, LoadedCustomer, OutboxDrop, StateRules, StateStore, StartObserver, StepObserver, StoreStats } from './state-store.js';

export interface RedisStoreOptions {
  /** Redis URL; the store creates (and on close() quits) its own client with DEFAULT_REDIS_OPTIONS. */
  readonly url?: string;
  /** Or seed nodes (`host:port`) of a Redis Cluster; the store creates (and on close() quits) its own Cluster client. */
  readonly clusterNodes?: readonly string[];
  /** Or an existing client (standalone or Cluster); the caller keeps owning it: close() leaves it open. */
  readonly redis?: Redis | Cluster;
  /**
   * Cluster only: a write (and a load, which may re-emit what an earlier write stored) is acknowledged
   * once this many replicas of the customer's master have it (WAIT); fewer within waitTimeoutMs fails
   * the call with CF_STATE_UNAVAILABLE (retriable). 0: no WAIT. Default 1.
   */
  readonly waitReplicas?: number;
  /** How long one WAIT may block. Default 1000. */
  readonly waitTimeoutMs?: number;
  /** Overrides of DEFAULT_REDIS_OPTIONS for the client created from `url`. */
  readonly redisOptions?: RedisOptions;
  /** Prepended to every key; must not contain '{' or '}' (the hash tag is the store's). Default 'cf:'. */
  readonly keyPrefix?: string;
  readonly layout: StateLayout;
  /** Expire a customer's hash after this many seconds without a write (refreshed on every write). Default: never. */
  readonly idleTtlSeconds?: number;
  /** Per-customer budget (estimateStateBytes, as the memory store): above it the oldest buckets fold into the archive. */
  readonly maxBytesPerCustomer?: number;
  readonly onBudgetExceeded?: (customerId: string, bytes: number) => void;
  /** Content-duplicate horizon (default DEFAULT_DEDUPE). */
  readonly dedupe?: DedupeOptions;
  /** Connection errors of a client the store created (ioredis keeps reconnecting meanwhile). */
  readonly onConnectionError?: (err: Error) => void;
  /** stats(): MEMORY USAGE of at most this many keys, extrapolated to all. Default 1000. */
  readonly statsSampleSize?: number;
  /** Folder of the *.lua scripts; default src/state/lua of this package (see resolveLuaDir). */
  readonly luaDir?: string;
  /**
   * The binary format written: STATE_FORMAT_VERSION (default). 1 writes the format before it, only to
   * measure the two side by side (bench/redis-state.bench.ts) and to test the migration.
   */
  readonly writeFormatVersion?: 1 | 2;
}

/**
 * Client settings for a stream processor. A command issued while Redis is away waits in the offline
 * queue through up to 5 reconnect attempts (about 3 s with this backoff) and then fails with
 * CF_STATE_UNAVAILABLE (retriable): a restart of Redis goes unnoticed, a longer outage makes the engine
 * retry the batch, which is safe because apply is idempotent per source position. Reconnecting itself
 * never gives up. A command sent but unanswered when the connection dropped is resent after reconnect
 * (also safe, same reason). A failover that leaves us on a replica (READONLY) reconnects and resends.
 */
/** The client a Redis-backed part uses: the one it is given (not closed by it), or its own from `clusterNodes` or `url`. */
export function redisClient(
  options: {
    readonly redis?: Redis | Cluster;
    readonly clusterNodes?: readonly string[];
    readonly url?: string;
    readonly redisOptions?: RedisOptions;
    readonly onConnectionError?: (err: Error) => void;
  },
  what: string,
): { client: Redis | Cluster; owns: boolean } {
  if (options.redis) return { client: options.redis, owns: false };
  let client: Redis | Cluster;
  if (options.clusterNodes && options.clusterNodes.length > 0) {
    client = new Cluster(options.clusterNodes.map(clusterNode), { ...DEFAULT_CLUSTER_OPTIONS, redisOptions: { ...DEFAULT_CLUSTER_OPTIONS.redisOptions, ...options.redisOptions } });
  } else if (options.url) {
    client = new Redis(options.url, { ...DEFAULT_REDIS_OPTIONS, ...options.redisOptions });
  } else {
    throw new ChurnflowError('CF_CONFIG_INVALID', `${what} needs \`url\`, \`clusterNodes\` or \`redis\``);
  }
  // Without a listener ioredis prints every failed reconnect; it keeps reconnecting either way.
  client.on('error', (err: Error) => options.onConnectionError?.(err));
  return { client, owns: true };
}

export const DEFAULT_REDIS_OPTIONS: Readonly<RedisOptions> = Object.freeze({
  retryStrategy: (times: number) => Math.min(100 * 2 ** Math.min(times - 1, 5), 2000),
  maxRetriesPerRequest: 5,
  enableOfflineQueue: true,
  enableReadyCheck: true,
  autoResendUnfulfilledCommands: true,
  reconnectOnError: (err: Error) => (err.message.startsWith('READONLY') ? 2 : false),
  connectTimeout: 5000,
  commandTimeout: 15_000,
});

/**
 * Cluster client settings. A lost master is not reconnected to (ioredis' cluster design): the client
 * refreshes the slot map and follows MOVED to the promoted replica; while no node serves a slot
 * (CLUSTERDOWN, the node timeout before the promotion) it waits 200 ms per attempt, up to
 * maxRedirections, then fails the call, and the engine retries the batch (safe: apply is idempotent).
 */
export const DEFAULT_CLUSTER_OPTIONS: Readonly<ClusterOptions> = Object.freeze({
  clusterRetryStrategy: (times: number) => Math.min(100 * 2 ** Math.min(times - 1, 5), 2000),
  enableOfflineQueue: true,
  enableReadyCheck: true,
  scaleReads: 'master',
  maxRedirections: 16,
  retryDelayOnFailover: 200,
  retryDelayOnClusterDown: 200,
  retryDelayOnTryAgain: 100,
  slotsRefreshTimeout: 2000,
  redisOptions: { connectTimeout: 5000, commandTimeout: 15_000 },
});

/** `host:port` → an ioredis cluster seed. */
function clusterNode(hostPort: string): ClusterNode {
  const m = /^([^\s:]+):(\d+)$/.exec(hostPort);
  if (!m) throw new ChurnflowError('CF_CONFIG_INVALID', `redis cluster node must be host:port, got ${JSON.stringify(hostPort)}`);
  return { host: m[1]!, port: Number(m[2]) };
}

/** The binary state is split into fields `b`, `b1`, `b2`... of at most this many bytes (see encodeChanges). */
export const STATE_PART_BYTES = 1000;
const SEEN_SET_LIMIT = 8_000_000; // below V8's Set size limit (2^24)

/** What load() read of a customer's hash, handed back to write() to send only the changed fields. */
export interface StoredHash {
  readonly fields: ReadonlyMap<string, Buffer>;
}

/** A state whose new outbox entries alone are stored (writeOutboxReturning), fenced on `version`. */
export interface OutboxWrite {
  readonly state: CustomerState;
  readonly version: number;
  /** The stored form the version goes with (LoadedCustomer.stored as this store answered it). */
  readonly stored: unknown;
}

/** What a load right after an outbox write would answer: the new version and stored form. */
export interface OutboxWritten {
  readonly version: number;
  readonly stored: unknown;
}

/** The hash after commit-state-1.lua applied `changes` to `stored` (the fields it set and deleted, and `v`). Exported for tests. */
export function storedAfterWrite(stored: StoredHash | undefined, changes: { readonly set: readonly (string | Buffer)[]; readonly del: readonly string[] }, version: number): StoredHash {
  const fields = new Map(stored?.fields);
  for (let i = 0; i + 1 < changes.set.length; i += 2) {
    const value = changes.set[i + 1]!;
    fields.set(changes.set[i] as string, typeof value === 'string' ? Buffer.from(value) : value);
  }
  for (const f of changes.del) fields.delete(f);
  fields.set('v', Buffer.from(String(version)));
  return { fields };
}

interface ScriptCommands {
  churnflowCommitState(key: string, version: string, ttl: string, pairs: string, ...fields: (string | Buffer)[]): unknown;
}

export class RedisStateStore implements StateStore {
  readonly kind = 'redis' as const;
  readonly rules: StateRules;
  private readonly client: Redis | Cluster;
  private readonly ownsClient: boolean;
  private readonly prefix: string;
  private readonly matchPattern: string;
  private readonly ttl: string;
  /** WAIT after each pipeline on a Cluster; undefined: none. */
  private readonly wait: { readonly replicas: number; readonly timeoutMs: number } | undefined;
  /** Layouts by fingerprint: the store's own, and those of other specs read from their layout keys (fetched once each). */
  private readonly layouts = new Map<number, LayoutSlots>();
  private readonly resolveLayout: LayoutResolver = (fingerprint) => this.layouts.get(fingerprint);
  /** The SET NX of the store's layout key, sent before its first state write. */
  private registered: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly options: RedisStoreOptions) {
    this.prefix = options.keyPrefix ?? 'cf:';
    if (/[{}]/.test(this.prefix)) {
      throw new ChurnflowError('CF_CONFIG_INVALID', `redis key prefix must not contain '{' or '}' (the store adds the hash tag), got ${JSON.stringify(this.prefix)}`);
    }
    const ttl = options.idleTtlSeconds;
    if (ttl !== undefined && !(Number.isInteger(ttl) && ttl > 0)) {
      throw new ChurnflowError('CF_CONFIG_INVALID', `idleTtlSeconds must be a positive integer, got ${String(ttl)}`);
    }
    this.rules = {
      layout: options.layout,
      ...(options.maxBytesPerCustomer !== undefined ? { maxBytesPerCustomer: options.maxBytesPerCustomer } : {}),
      ...(options.onBudgetExceeded ? { onBudgetExceeded: options.onBudgetExceeded } : {}),
      ...(options.dedupe ? { dedupe: options.dedupe } : {}),
    };
    this.ttl = String(ttl ?? 0);
    this.matchPattern = `${this.prefix.replace(/[*?[\]\\]/g, '\\$&')}{c:*`;
    const scripts = loadLuaScripts(options.luaDir ?? resolveLuaDir());
    ({ client: this.client, owns: this.ownsClient } = redisClient(options, 'redis state store'));
    for (const s of scripts) this.client.defineCommand(s.command, { lua: s.lua, numberOfKeys: s.numberOfKeys });
    const replicas = options.waitReplicas ?? 1;
    const timeoutMs = options.waitTimeoutMs ?? 1000;
    if (!(Number.isInteger(replicas) && replicas >= 0) || !(Number.isInteger(timeoutMs) && timeoutMs > 0)) {
      throw new ChurnflowError('CF_CONFIG_INVALID', `waitReplicas must be an integer >= 0 and waitTimeoutMs a positive integer, got ${String(replicas)} and ${String(timeoutMs)}`);
    }
    this.wait = this.client instanceof Cluster && replicas > 0 ? { replicas, timeoutMs } : undefined;
    this.layouts.set(layoutInfo(options.layout.merges).fingerprint, options.layout.merges);
  }

  /** Where the layout of a fingerprint is registered: the text its fingerprint hashes (layout-fingerprint.ts). No hash tag: on a Cluster it is one more key. */
  layoutKey(fingerprint: number): string {
    return `${this.prefix}layout:${fingerprintHex(fingerprint)}`;
  }

  /** The customer's hash. Every key of a customer carries the hash tag `{c:<id>}`. */
  keyOf(customerId: string): string {
    return `${this.prefix}{c:${customerId}}`;
  }

  async load(customerIds: readonly string[]): Promise<LoadedCustomer[]> {
    this.assertOpen();
    if (customerIds.length === 0) return [];
    const hashes = await this.readHashes(customerIds);
    const states = await this.decodeHashes(customerIds, hashes);
    return hashes.map((fields, i) => {
      const id = customerIds[i]!;
      return { state: states[i] ?? emptyState(id), version: fields.size === 0 ? 0 : Number(fields.get('v')?.toString() ?? 0), stored: { fields } satisfies StoredHash, read: true };
    });
  }

  /**
   * The hashes' states (null for an absent customer). A state of another layout than the store's is
   * read with the layout registered under its fingerprint: the first time a fingerprint shows up, its
   * layout key is read (one GET per unknown fingerprint in the process, never on the hot path) and the
   * customers that named it are decoded again. A fingerprint without a layout key stays CF_STATE_LAYOUT.
   */
  private async decodeHashes(customerIds: readonly string[], hashes: readonly ReadonlyMap<string, Buffer>[]): Promise<(CustomerState | null)[]> {
    const missing = new Set<number>();
    let missed = false;
    const noteMissing: LayoutResolver = (fingerprint) => {
      const found = this.layouts.get(fingerprint);
      if (found === undefined) {
        missing.add(fingerprint);
        missed = true;
      }
      return found;
    };
    const retry: number[] = [];
    const states = hashes.map((fields, i) => {
      if (fields.size === 0) return null;
      missed = false;
      try {
        return decodeStoredHash(customerIds[i]!, fields, this.options.layout.merges, noteMissing);
      } catch (err) {
        if (!missed) throw err;
        retry.push(i);
        return null;
      }
    });
    if (retry.length === 0) return states;
    await this.fetchLayouts([...missing]);
    for (const i of retry) states[i] = decodeStoredHash(customerIds[i]!, hashes[i]!, this.options.layout.merges, this.resolveLayout);
    return states;
  }

  /** Reads the layout keys of these fingerprints into the cache; an absent key leaves its fingerprint unknown. */
  private async fetchLayouts(fingerprints: readonly number[]): Promise<void> {
    let texts: (string | null)[];
    try {
      texts = await Promise.all(fingerprints.map((f) => this.client.get(this.layoutKey(f))));
    } catch (err) {
      throw redisError(err);
    }
    fingerprints.forEach((f, i) => {
      const text = texts[i];
      if (text !== null && text !== undefined) this.layouts.set(f, parseLayoutText(f, text));
    });
  }

  /**
   * Registers the store's layout under its fingerprint (SET NX: idempotent, every engine with the same
   * spec writes the same text), once per store, before its first state write: a state naming a
   * fingerprint is then always readable by an engine with another spec. A failed SET is tried again
   * by the next write.
   */
  private registerLayout(): Promise<void> {
    if (this.registered === undefined) {
      const merges = this.options.layout.merges;
      this.registered = this.client.set(this.layoutKey(layoutInfo(merges).fingerprint), layoutText(merges), 'NX').then(
        () => undefined,
        (err: unknown) => {
          this.registered = undefined;
          throw redisError(err);
        },
      );
    }
    return this.registered;
  }

  async write(writes: readonly CustomerWrite[]): Promise<readonly string[]> {
    const after = await this.writeReturning(writes);
    return writes.flatMap((w, i) => (after[i] ? [] : [w.state.customerId]));
  }

  /**
   * write(), answering per customer what a load() right after it would return (the written state object
   * itself, the next version, the hash as it now stands), or undefined where the fence refused the write.
   * The hot cache (hot-cache.ts) keeps these, so the next batch neither reads nor re-sends what is stored.
   */
  async writeReturning(writes: readonly CustomerWrite[]): Promise<readonly (LoadedCustomer | undefined)[]> {
    this.assertOpen();
    if (writes.length === 0) return [];
    await this.registerLayout();
    const changes = writes.map((w) => encodeChanges(w.state, w.loaded.stored as StoredHash | undefined, this.options.layout.merges, this.options.writeFormatVersion));
    const replies = await this.pipelined<number>(
      writes.map((w) => this.keyOf(w.state.customerId)),
      (p, key, i) => {
        const { set, del } = changes[i]!;
        return (p as unknown as ScriptCommands).churnflowCommitState(key, String(writes[i]!.loaded.version), this.ttl, String(set.length / 2), ...set, ...del);
      },
    );
    return writes.map((w, i) => {
      if (replies[i] !== 1) return undefined;
      const version = w.loaded.version + 1;
      return { state: w.state, version, stored: storedAfterWrite(w.loaded.stored as StoredHash | undefined, changes[i]!, version) };
    });
  }

  /**
   * Stores only the outbox entries of these states that the stored hash lacks (fields `o:<key>`), fenced
   * on the version given and moving it by one, as a write does; `b` is not touched (the state itself is
   * written later, HotCachedStore.writeDecisions). A customer the store does not know gets a hash of
   * its entries and `v` alone, which load() reads as an empty state with that outbox. Per write, what
   * a load right after it would answer as version and stored form, or undefined where the fence refused it.
   */
  async writeOutboxReturning(writes: readonly OutboxWrite[]): Promise<readonly (OutboxWritten | undefined)[]> {
    this.assertOpen();
    if (writes.length === 0) return [];
    const changes = writes.map((w) => pushNewOutboxFields([], w.state, (w.stored as StoredHash | undefined)?.fields));
    const replies = await this.pipelined<number>(
      writes.map((w) => this.keyOf(w.state.customerId)),
      (p, key, i) => (p as unknown as ScriptCommands).churnflowCommitState(key, String(writes[i]!.version), this.ttl, String(changes[i]!.length / 2), ...changes[i]!),
    );
    return writes.map((w, i) => {
      if (replies[i] !== 1) return undefined;
      const version = w.version + 1;
      return { version, stored: storedAfterWrite(w.stored as StoredHash | undefined, { set: changes[i]!, del: [] }, version) };
    });
  }

  /**
   * One HDEL of the entries' fields `o:<key>` per customer, pipelined (StateStore.dropOutbox). No script
   * and no version bump: the fields of committed offsets are never read again, and a fenced write of
   * another instance sends only the fields it changed, so it cannot bring them back. A hash keeps `b`
   * and `v`, so an HDEL never deletes the key; one that expired meanwhile is not recreated.
   */
  async dropOutbox(drops: readonly OutboxDrop[]): Promise<void> {
    this.assertOpen();
    const some = drops.filter((d) => d.keys.length > 0);
    if (some.length === 0) return;
    await this.pipelined<number>(
      some.map((d) => this.keyOf(d.customerId)),
      (p, key, i) => p.hdel(key, ...some[i]!.keys.map((k) => `o:${k}`)),
    );
  }

  /** A hash as load() or writeReturning() answered it, without these outbox entries: the hot cache's copy after dropOutbox. */
  storedWithoutOutbox(stored: unknown, keys: readonly string[]): unknown {
    const fields = new Map((stored as StoredHash | undefined)?.fields);
    for (const k of keys) fields.delete(`o:${k}`);
    return { fields } satisfies StoredHash;
  }

  /** Bytes of the hash a load() or writeReturning() answered (its field values): what the hot cache sizes entries by. */
  storedBytes(stored: unknown): number {
    let n = 0;
    for (const v of (stored as StoredHash | undefined)?.fields.values() ?? []) n += v.length;
    return n;
  }

  apply(deltas: readonly StateDelta[], observe?: StepObserver, onStart?: StartObserver): Promise<ApplyResult[]> {
    return applyDeltas(this, deltas, observe, onStart);
  }

  async get(customerIds: readonly string[]): Promise<(CustomerState | null)[]> {
    this.assertOpen();
    if (customerIds.length === 0) return [];
    return this.decodeHashes(customerIds, await this.readHashes(customerIds));
  }

  /** The customers' hashes, values as bytes (the state field is binary: a string reply would mangle it). */
  private async readHashes(customerIds: readonly string[]): Promise<Map<string, Buffer>[]> {
    const hashes = await this.pipelined<Record<string, Buffer>>(
      customerIds.map((id) => this.keyOf(id)),
      (p, key) => p.hgetallBuffer(key),
    );
    return hashes.map((h) => new Map(Object.entries(h)));
  }

  /**
   * Every customer once, in pages of at most pageSize, in no particular order. SCAN may return a key
   * twice (while Redis resizes its table), so ids already yielded are remembered: memory O(customers)
   * per node during the scan.
   */
  async *scan(pageSize = 500): AsyncIterable<CustomerState[]> {
    this.assertOpen();
    for await (const ids of this.scanIds(pageSize)) {
      const page = (await this.get(ids)).filter((s): s is CustomerState => s !== null);
      if (page.length > 0) yield page;
    }
  }

  /**
   * customers: keys under the prefix (a full SCAN: O(keyspace), call it every few minutes, not per batch).
   * bytes: Redis' MEMORY USAGE (key, value and allocator overhead; not the main dictionary's own table)
   * summed over all keys up to statsSampleSize, beyond that the sample's mean times customers.
   */
  async stats(): Promise<StoreStats> {
    this.assertOpen();
    const sampleSize = this.options.statsSampleSize ?? 1000;
    const sample: string[] = [];
    let customers = 0;
    for await (const ids of this.scanIds(1000)) {
      customers += ids.length;
      for (const id of ids) if (sample.length < sampleSize) sample.push(this.keyOf(id));
    }
    if (customers === 0) return { customers: 0, bytes: 0 };
    const usage = await this.pipelined<number | null>(sample, (p, key) => p.memory('USAGE', key, 'SAMPLES', '0'));
    const measured = usage.filter((u): u is number => typeof u === 'number');
    const sum = measured.reduce((a, b) => a + b, 0);
    const bytes = measured.length === 0 ? 0 : measured.length >= customers ? sum : Math.round((sum / measured.length) * customers);
    return { customers, bytes };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.ownsClient) return;
    const client = this.client;
    if (client.status !== 'ready') {
      client.disconnect();
      return;
    }
    try {
      await Promise.race([client.quit(), new Promise((_, reject) => setTimeout(() => reject(new Error('quit timed out')), 2000).unref())]);
    } catch {
      client.disconnect();
    }
  }

  // ---------------------------------------------------------------- internals

  /**
   * Runs one command per key in one pipeline (Cluster: one pipeline per master node, in parallel) and
   * returns the replies in order; the first failed command fails the call with a coded error.
   *
   * On a Cluster with waitReplicas, each pipeline ends with WAIT: it blocks until the master's
   * replicas have every write this connection sent, so a write is not acknowledged (and its decisions
   * not emitted, its offsets not committed) before a failover could keep it. Loads wait too: a batch
   * retried after a WAIT that fell short finds its own write on the master, writes nothing new, and
   * would otherwise emit the stored decisions of a write the replica may still lack.
   */
  private async pipelined<T>(keys: readonly string[], add: (p: ChainableCommander, key: string, i: number) => unknown): Promise<T[]> {
    const out = new Array<T>(keys.length);
    const groups = this.nodeGroups(keys);
    const wait = this.wait;
    try {
      await Promise.all(
        groups.map(async (indices) => {
          const p = this.client.pipeline();
          for (const i of indices) add(p, keys[i]!, i);
          if (wait) p.wait(wait.replicas, wait.timeoutMs);
          const res = (await p.exec()) ?? [];
          indices.forEach((i, j) => {
            const [err, reply] = res[j] ?? [new Error('missing pipeline reply'), undefined];
            if (err) throw err;
            out[i] = reply as T;
          });
          if (wait) {
            const [err, acked] = res[indices.length] ?? [new Error('missing WAIT reply'), undefined];
            if (err) throw err;
            if (typeof acked !== 'number' || acked < wait.replicas) {
              throw new ChurnflowError('CF_STATE_UNAVAILABLE', `redis cluster: ${String(acked)} of ${wait.replicas} replica(s) acknowledged the writes within ${wait.timeoutMs} ms (a replica down or lagging); the batch runs again`, { retriable: true });
            }
          }
        }),
      );
    } catch (err) {
      if (this.client instanceof Cluster && isSlotMoveError(err)) await refreshSlots(this.client);
      throw redisError(err);
    }
    return out;
  }

  /** Indices of keys that can share one pipeline: all of them, or per Cluster master node. */
  private nodeGroups(keys: readonly string[]): number[][] {
    if (!(this.client instanceof Cluster)) return [keys.map((_, i) => i)];
    const slots = this.client.slots;
    const groups = new Map<string, number[]>();
    keys.forEach((key, i) => {
      const slot = calculateSlot(key);
      const node = slots[slot]?.[0] ?? `slot:${slot}`;
      const g = groups.get(node);
      if (g) g.push(i);
      else groups.set(node, [i]);
    });
    return [...groups.values()];
  }

  /**
   * Customer ids under the prefix, in chunks of up to pageSize: `SCAN MATCH` on every (master) node,
   * keys only, no hash read. Unique by default (ids seen are remembered: O(customers) memory per node);
   * `unique: false` forgets them (O(pageSize) memory) and may repeat an id SCAN returned twice.
   */
  async *scanIds(pageSize = 1000, options: { readonly unique?: boolean } = {}): AsyncIterable<string[]> {
    this.assertOpen();
    const nodes = this.client instanceof Cluster ? await this.masters(this.client) : [this.client];
    for (const node of nodes) {
      const seen = options.unique === false ? undefined : new SeenSet();
      let pending: string[] = [];
      let cursor = '0';
      do {
        let keys: string[];
        try {
          [cursor, keys] = await node.scan(cursor, 'MATCH', this.matchPattern, 'COUNT', 1000);
        } catch (err) {
          throw redisError(err);
        }
        for (const key of keys) {
          const id = this.idOfKey(key);
          if (id !== undefined && (seen === undefined || seen.add(id))) pending.push(id);
        }
        while (pending.length >= pageSize) yield pending.splice(0, pageSize);
      } while (cursor !== '0');
      if (pending.length > 0) yield pending;
      pending = [];
    }
  }

  /**
   * The Cluster's masters. A client that has not connected yet knows no node at all (nodes() is empty,
   * and a scan would silently find no customer): wait for it to be ready first (at most 10 s).
   */
  private async masters(cluster: Cluster): Promise<Redis[]> {
    if (cluster.status !== 'ready') {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => done(new ChurnflowError('CF_STATE_UNAVAILABLE', `redis cluster not ready within 10 s (status ${cluster.status})`, { retriable: true })), 10_000);
        const onReady = () => done();
        const done = (err?: Error) => {
          clearTimeout(timer);
          cluster.off('ready', onReady);
          if (err) reject(err);
          else resolve();
        };
        cluster.once('ready', onReady);
        if (cluster.status === 'wait') cluster.connect().catch(() => {}); // lazyConnect clients; errors surface as the timeout
      });
    }
    const masters = cluster.nodes('master');
    if (masters.length === 0) throw new ChurnflowError('CF_STATE_UNAVAILABLE', 'redis cluster: no master known', { retriable: true });
    return masters;
  }

  private idOfKey(key: string): string | undefined {
    const head = `${this.prefix}{c:`;
    return key.startsWith(head) && key.endsWith('}') ? key.slice(head.length, -1) : undefined;
  }

  private assertOpen(): void {
    if (this.closed) throw new ChurnflowError('CF_STATE_UNAVAILABLE', 'redis state store is closed');
  }
}

// ---------------------------------------------------------------- encoding

/**
 * The fields of a customer's hash that differ from what was loaded: values to set and fields to delete.
 *
 *   b, b1, b2... the binary state without the outbox (src/state/codec/customer-codec.ts), in parts of
 *   at most STATE_PART_BYTES · o:<stream>@<offset> one
 *   outbox entry (the stored decision, bytes as written) · v version (written by the script)
 *
 * Outbox entries keep a field each: a write sends only the new ones, and a batch's decisions never
 * grow `b` past hash-max-listpack-value. A hash still in the JSON layout (src/state/codec/legacy-hash.ts)
 * loses its old fields here: its first write migrates it.
 */
export function encodeChanges(state: CustomerState, stored: StoredHash | undefined, layout: LayoutSlots, formatVersion?: 1 | 2): { set: (string | Buffer)[]; del: string[] } {
  const prev = stored?.fields;
  const bytes = encodeCustomer(state, { outbox: false, layout, ...(formatVersion ? { formatVersion } : {}) });
  const set: (string | Buffer)[] = [];
  // Parts of at most STATE_PART_BYTES: every field stays within hash-max-listpack-value 1024, so the
  // hash stays a listpack (a hashtable costs ~450 B more per customer, measured). Each part and outbox
  // entry is compared with the stored field straight away (no map of the new fields: this runs for
  // every written customer), in the order the fields were always sent.
  let parts = 0;
  for (let at = 0; at < bytes.length || parts === 0; at += STATE_PART_BYTES, parts++) {
    const field = parts === 0 ? 'b' : `b${parts}`;
    const value = at === 0 && bytes.length <= STATE_PART_BYTES ? bytes : bytes.subarray(at, at + STATE_PART_BYTES);
    const before = prev?.get(field);
    if (before === undefined || !before.equals(value)) set.push(field, value);
  }
  pushNewOutboxFields(set, state, prev);
  const outbox = state.outbox;
  const del: string[] = [];
  if (prev !== undefined) {
    for (const field of prev.keys()) {
      if (field === 'v') continue;
      const kept = field.startsWith('o:') ? Object.hasOwn(outbox, field.slice(2)) : isPartField(field, parts);
      if (!kept) del.push(field);
    }
  }
  return { set, del };
}

/**
 * The text whose UTF-8 bytes an outbox field's stored value is, for the values this process made or
 * decoded: an entry already stored as it is is then recognised by comparing strings (the state's
 * outbox shares the very string, so usually by reference) instead of encoding it again to compare
 * bytes. A customer's entries stay in its outbox until their offsets are committed, and a write of its
 * decisions compared every one of them: ≈3.5 % of the engine's main thread (engine-cpu profile,
 * 2026-12-06). Weak: the texts go with the stored values.
 */
const outboxTexts = new WeakMap<Buffer, string>();

/** Appends to `set` the state's outbox entries the stored fields do not hold as they are: field, value, field, value... */
function pushNewOutboxFields(set: (string | Buffer)[], state: CustomerState, prev: ReadonlyMap<string, Buffer> | undefined): (string | Buffer)[] {
  for (const key in state.outbox) {
    const field = `o:${key}`;
    const text = state.outbox[key]!;
    const before = prev?.get(field);
    if (before !== undefined && outboxTexts.get(before) === text) continue;
    const value = Buffer.from(text);
    if (before !== undefined && before.equals(value)) {
      outboxTexts.set(before, text);
      continue;
    }
    outboxTexts.set(value, text);
    set.push(field, value);
  }
  return set;
}

/** Whether `field` is one of the state part fields b, b1 … b(parts-1) encodeChanges writes. */
function isPartField(field: string, parts: number): boolean {
  if (field === 'b') return true;
  if (field.charCodeAt(0) !== 98 /* b */) return false;
  const i = Number(field.slice(1));
  // `b${i}` gives back the field only for the canonical form (not "b01", "b1.0", "b 1").
  return Number.isInteger(i) && i >= 1 && i < parts && `b${i}` === field;
}

/**
 * A customer's hash as a CustomerState: the binary format (version 2 with the store's layout or one
 * `resolve` knows, or version 1), or the JSON layout (read for migration).
 */
export function decodeStoredHash(customerId: string, fields: ReadonlyMap<string, Buffer>, layout: LayoutSlots, resolve?: LayoutResolver): CustomerState {
  if (isLegacyHash(fields)) return decodeLegacyHash(customerId, [...fields].map(([f, v]) => [f, v.toString('utf8')] as const));
  const first = fields.get('b');
  let state: CustomerState;
  if (first !== undefined) {
    const parts = [first];
    for (let i = 1, part = fields.get('b1'); part !== undefined; part = fields.get(`b${++i}`)) parts.push(part);
    state = decodeCustomer(customerId, parts.length === 1 ? first : Buffer.concat(parts), layout, resolve);
  } else if (fields.has('v') && [...fields.keys()].every((f) => f === 'v' || f.startsWith('o:'))) {
    // Decisions stored before the customer's first state write (HotCachedStore.writeDecisions): the
    // state is empty, its outbox those entries.
    state = emptyState(customerId);
  } else {
    throw formatError(`customer ${customerId}`, `hash has neither the binary state field b nor the JSON layout's fields (has ${[...fields.keys()].slice(0, 5).join(', ')})`);
  }
  for (const [field, value] of fields) {
    if (!field.startsWith('o:')) continue;
    const text = value.toString('utf8');
    state.outbox[field.slice(2)] = text;
    outboxTexts.set(value, text);
  }
  return state;
}

// ---------------------------------------------------------------- errors

/** A reply saying the slot map is stale or being changed (a failover, a resharding). */
function isSlotMoveError(err: unknown): boolean {
  return /^(MOVED|ASK|CLUSTERDOWN|TRYAGAIN)\b/.test(errorMessage(err));
}

/**
 * Reloads the slot map. ioredis follows MOVED for a single command, but for a pipeline only when every
 * reply is the very same redirection (one slot) and nothing else was written; a pipeline of many
 * customers (and WAIT) never is, so after a failover the pipelines kept going to the old master until
 * the map was reloaded (measured: an engine retried against MOVED for 25 s and exited). The retry
 * regroups the keys by the new map. Waits at most 2 s.
 */
function refreshSlots(cluster: Cluster): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 2000);
    timer.unref();
    cluster.refreshSlotsCache(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Connection trouble (refused, reset, timed out, offline queue flushed after the retries, LOADING,
 * failover) → CF_STATE_UNAVAILABLE, retriable. A script error or a wrong-typed key → CF_STATE_CONFLICT,
 * not retriable (retrying cannot help). OOM is retriable: expiry and idle TTLs may free memory.
 */
export function redisError(err: unknown): ChurnflowError {
  if (err instanceof ChurnflowError) return err;
  const message = errorMessage(err);
  const isReply = err instanceof Error && err.name === 'ReplyError';
  if (isReply && !/^(LOADING|BUSY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|READONLY|NOREPLICAS|OOM|MOVED|ASK)\b/.test(message)) {
    return new ChurnflowError('CF_STATE_CONFLICT', `redis state store: ${message}`, { cause: err, retriable: false });
  }
  return new ChurnflowError('CF_STATE_UNAVAILABLE', `redis state store unavailable: ${message}`, { cause: err, retriable: true });
}

// ---------------------------------------------------------------- scripts

export interface LuaScript {
  /** ioredis command name, e.g. churnflowCommitState for commit-state-1.lua. */
  readonly command: string;
  readonly numberOfKeys: number;
  readonly lua: string;
  readonly file: string;
}

/**
 * The folder of the Lua scripts: next to this module (running from src/), else src/state/lua of the
 * package when running the compiled dist/src/state/redis-store.js (tsc does not copy .lua files).
 */
export function resolveLuaDir(): string {
  const candidates = [new URL('./lua/', import.meta.url), new URL('../../../src/state/lua/', import.meta.url)].map((u) => fileURLToPath(u));
  const found = candidates.find((dir) => existsSync(join(dir, 'commit-state-1.lua')));
  if (!found) throw new ChurnflowError('CF_CONFIG_INVALID', `redis state store: Lua scripts not found in ${candidates.join(' or ')} (pass luaDir)`);
  return found;
}

/** Every `<command>-<numKeys>.lua` of the folder. */
export function loadLuaScripts(dir: string): LuaScript[] {
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch (err) {
    throw new ChurnflowError('CF_CONFIG_INVALID', `redis state store: cannot read Lua scripts in ${dir}: ${errorMessage(err)}`, { cause: err });
  }
  const scripts = files.flatMap((file) => {
    const m = /^([a-z][a-z0-9]*(?:-[a-z][a-z0-9]*)*)-(\d+)\.lua$/.exec(file);
    if (!m) return [];
    const command = `churnflow${m[1]!.split('-').map((w) => w[0]!.toUpperCase() + w.slice(1)).join('')}`;
    return [{ command, numberOfKeys: Number(m[2]), lua: readFileSync(join(dir, file), 'utf8'), file }];
  });
  if (!scripts.some((s) => s.command === 'churnflowCommitState')) {
    throw new ChurnflowError('CF_CONFIG_INVALID', `redis state store: commit-state-1.lua missing in ${dir}`);
  }
  return scripts;
}

/** A set of strings that grows past V8's per-Set limit (for SCAN dedupe over millions of keys). */
class SeenSet {
  private readonly sets: Set<string>[] = [new Set()];

  /** Adds the id; false when it was there already. */
  add(id: string): boolean {
    for (const s of this.sets) if (s.has(id)) return false;
    let last = this.sets[this.sets.length - 1]!;
    if (last.size >= SEEN_SET_LIMIT) {
      last = new Set();
      this.sets.push(last);
    }
    last.add(id);
    return true;
  }
}
