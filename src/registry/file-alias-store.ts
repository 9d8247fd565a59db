// AliasStore on local disk: <root>/<name>/aliases.json, for one host (a laptop, CI, a single engine).
// A change takes a lock file (<root>/<name>/aliases.json.lock, created atomically with link(2), which
// fails if it exists), re-reads, checks the revision, writes a temp file, fsyncs it and renames it over
// aliases.json; readers never see a half-written file and need no lock. A lock left by a crashed
// process (its pid is gone on this host, or it is older than staleLockMs) is broken; two processes on
// one host can never both apply a change for the same revision. Not for several hosts sharing a
// network file system (lock semantics vary there): use the Redis store.
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ChurnflowError, errorMessage } from '../errors.js';
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

export const ALIASES_FILE = 'aliases.json';

export interface FileAliasStoreOptions {
  /** The registry root: aliases of model <name> live in <root>/<name>/aliases.json. */
  readonly root: string;
  readonly clock?: Clock;
  /** How long update() waits for another process's lock before failing (retriable). Default 10 s. */
  readonly lockTimeoutMs?: number;
  /** A lock older than this is considered abandoned whoever holds it. Default 60 s (changes take ms). */
  readonly staleLockMs?: number;
}

interface LockInfo {
  pid: number;
  host: string;
  /** Unique per acquisition, so release() only removes its own lock. */
  token: string;
  at: number;
}

export class FileAliasStore implements AliasStore {
  readonly kind = 'file' as const;
  private readonly clock: Clock;
  private readonly lockTimeoutMs: number;
  private readonly staleLockMs: number;
  private readonly host = hostname();
  private closed = false;

  constructor(private readonly options: FileAliasStoreOptions) {
    this.clock = options.clock ?? systemClock;
    this.lockTimeoutMs = options.lockTimeoutMs ?? 10_000;
    this.staleLockMs = options.staleLockMs ?? 60_000;
  }

  /** <root>/<name>/aliases.json */
  pathOf(name: string): string {
    return join(this.options.root, checkModelName(name), ALIASES_FILE);
  }

  async read(name: string): Promise<AliasState> {
    this.assertOpen();
    const path = this.pathOf(name);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyAliasState(name);
      throw new ChurnflowError('CF_ALIAS_STORE_FAILED', `cannot read ${path}: ${errorMessage(err)}`, { cause: err, retriable: true });
    }
    return parseAliasState(text, name, path);
  }

  async update(name: string, expectedRevision: number, change: AliasChangeRequest): Promise<AliasState> {
    this.assertOpen();
    const path = this.pathOf(name);
    // Cheap early answer without the lock; the decisive check is the one under it.
    const seen = await this.read(name);
    if (seen.revision !== expectedRevision) throw aliasConflict(name, expectedRevision, seen.revision);
    // Refuse a malformed change before touching the disk.
    applyAliasChange(seen, change, this.clock.now());
    await mkdir(join(this.options.root, name), { recursive: true });
    const lock = await this.acquire(`${path}.lock`);
    try {
      const current = await this.read(name);
      if (current.revision !== expectedRevision) throw aliasConflict(name, expectedRevision, current.revision);
      const next = applyAliasChange(current, change, this.clock.now());
      await this.writeAtomically(path, serializeAliasState(next, true));
      return next;
    } finally {
      await this.release(`${path}.lock`, lock);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new ChurnflowError('CF_LIFECYCLE', 'file alias store is closed');
  }

  private async writeAtomically(path: string, text: string): Promise<void> {
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      const fh = await open(tmp, 'wx', 0o644);
      try {
        await fh.writeFile(text, 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw new ChurnflowError('CF_ALIAS_STORE_FAILED', `cannot write ${path}: ${errorMessage(err)}`, { cause: err, retriable: true });
    }
    // Make the rename durable (best effort: not every platform lets a directory be fsynced).
    try {
      const dir = await open(join(path, '..'), 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    } catch {
      /* ignore */
    }
  }

  /**
   * Creates the lock file atomically (write a temp file, link(2) it to the lock path: fails if taken).
   * Lock waits and staleness are plumbing measured on the wall clock (file mtimes are wall time); the
   * injected clock only stamps history entries.
   */
  private async acquire(lockPath: string): Promise<LockInfo> {
    const started = performance.now();
    let wait = 2;
    for (;;) {
      const info: LockInfo = { pid: process.pid, host: this.host, token: randomBytes(8).toString('hex'), at: Date.now() };
      const tmp = `${lockPath}.${info.token}.tmp`;
      try {
        await writeFile(tmp, JSON.stringify(info), { flag: 'wx' });
        try {
          await link(tmp, lockPath);
          return info;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
      } catch (err) {
        throw new ChurnflowError('CF_ALIAS_STORE_FAILED', `cannot create lock ${lockPath}: ${errorMessage(err)}`, { cause: err, retriable: true });
      } finally {
        await unlink(tmp).catch(() => {});
      }
      const holder = await this.readLock(lockPath);
      if (holder && (await this.isAbandoned(lockPath, holder))) {
        await this.breakLock(lockPath, holder);
        continue;
      }
      if (performance.now() - started >= this.lockTimeoutMs) {
        const who = holder ? `pid ${holder.pid} on ${holder.host}` : 'another process';
        throw new ChurnflowError('CF_ALIAS_STORE_FAILED', `lock ${lockPath} held by ${who} for more than ${this.lockTimeoutMs} ms; if no churnflow process is changing aliases, remove the lock file`, {
          retriable: true,
        });
      }
      await sleep(wait + Math.random() * wait);
      wait = Math.min(wait * 2, 50);
    }
  }

  private async readLock(lockPath: string): Promise<(LockInfo & { raw: string }) | null> {
    try {
      const raw = await readFile(lockPath, 'utf8');
      const parsed = JSON.parse(raw) as LockInfo;
      return { ...parsed, raw };
    } catch {
      return null; // released meanwhile, or unreadable: retry
    }
  }

  private async isAbandoned(lockPath: string, holder: LockInfo): Promise<boolean> {
    if (holder.host === this.host && Number.isInteger(holder.pid) && holder.pid !== process.pid) {
      try {
        process.kill(holder.pid, 0);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ESRCH') return true; // its process is gone
      }
    }
    try {
      const st = await stat(lockPath);
      return Date.now() - st.mtimeMs > this.staleLockMs;
    } catch {
      return false;
    }
  }

  /**
   * Moves the abandoned lock aside and deletes it, but only if what was moved is the lock judged
   * abandoned; a fresh lock taken meanwhile is linked back (link fails if yet another one exists).
   */
  private async breakLock(lockPath: string, holder: LockInfo & { raw: string }): Promise<void> {
    const aside = `${lockPath}.${randomBytes(8).toString('hex')}.broken`;
    try {
      await rename(lockPath, aside);
    } catch {
      return; // someone else broke or released it
    }
    try {
      const raw = await readFile(aside, 'utf8');
      if (raw !== holder.raw) await link(aside, lockPath).catch(() => {});
    } finally {
      await unlink(aside).catch(() => {});
    }
  }

  private async release(lockPath: string, lock: LockInfo): Promise<void> {
    const holder = await this.readLock(lockPath);
    if (holder && holder.token === lock.token) await unlink(lockPath).catch(() => {});
  }
}
