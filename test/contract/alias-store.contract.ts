// The behaviour every AliasStore must have (file store here; the Redis store runs the same suite against
// a real server): empty reads, compare-and-set on the revision, history, bounds, isolation between
// models and between store instances, and concurrent updates of which exactly one wins.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChurnflowError } from '../../src/errors.js';
import { HISTORY_LIMIT, type AliasChangeRequest, type AliasStore } from '../../src/registry/alias-store.js';
import { ManualClock, type Clock } from '../../src/time/clock.js';

/** One isolated backend per test (a temp dir, a fresh key prefix); open() may be called several times on it. */
export interface AliasStoreBackend {
  open(clock: Clock): Promise<AliasStore>;
  cleanup(): Promise<void>;
}

export type AliasStoreBackendFactory = () => Promise<AliasStoreBackend>;

const T0 = Date.UTC(2026, 10, 26, 12);

export const promote = (from: string | null, to: string, extra: Partial<AliasChangeRequest> = {}): AliasChangeRequest => ({
  alias: 'production',
  from,
  to,
  action: 'promote',
  reason: `promote ${to}`,
  forced: false,
  actor: 'test@host',
  ...extra,
});

const isConflict = (err: unknown) => err instanceof ChurnflowError && err.code === 'CF_ALIAS_CONFLICT' && err.retriable;

export function aliasStoreContract(name: string, newBackend: AliasStoreBackendFactory): void {
  const withStore = async (fn: (s: AliasStore, clock: ManualClock, backend: AliasStoreBackend) => Promise<void>) => {
    const backend = await newBackend();
    const clock = new ManualClock(T0);
    const store = await backend.open(clock);
    try {
      await fn(store, clock, backend);
    } finally {
      await store.close();
      await backend.cleanup();
    }
  };

  test(`${name}: nothing stored reads as revision 0 without aliases or history`, () =>
    withStore(async (store) => {
      assert.deepEqual(await store.read('churn-gbdt'), { name: 'churn-gbdt', revision: 0, aliases: {}, history: [] });
    }));

  test(`${name}: an update applies on the expected revision, stamps time and revision, and reads back`, () =>
    withStore(async (store, clock) => {
      const s1 = await store.update('m', 0, promote(null, '1.0.0', { reason: 'first', actor: 'alice@h1' }));
      assert.equal(s1.revision, 1);
      assert.deepEqual(s1.aliases, { production: '1.0.0' });
      assert.deepEqual(s1.history, [{ alias: 'production', from: null, to: '1.0.0', action: 'promote', reason: 'first', forced: false, actor: 'alice@h1', at: T0, revision: 1 }]);
      assert.deepEqual(await store.read('m'), s1);
      clock.advance(60_000);
      const s2 = await store.update('m', 1, { alias: 'candidate', from: null, to: '1.1.0', action: 'set', reason: 'canary', forced: true, actor: 'bob@h2' });
      assert.equal(s2.revision, 2);
      assert.deepEqual(s2.aliases, { production: '1.0.0', candidate: '1.1.0' });
      assert.equal(s2.history.length, 2);
      assert.deepEqual(s2.history[1], { alias: 'candidate', from: null, to: '1.1.0', action: 'set', reason: 'canary', forced: true, actor: 'bob@h2', at: T0 + 60_000, revision: 2 });
      assert.deepEqual(await store.read('m'), s2);
    }));

  test(`${name}: a stale expected revision is a retriable CF_ALIAS_CONFLICT and changes nothing`, () =>
    withStore(async (store) => {
      await store.update('m', 0, promote(null, '1.0.0'));
      const before = await store.read('m');
      await assert.rejects(store.update('m', 0, promote(null, '2.0.0')), isConflict);
      await assert.rejects(store.update('m', 5, promote('1.0.0', '2.0.0')), isConflict);
      assert.deepEqual(await store.read('m'), before);
    }));

  test(`${name}: clear removes an alias; rollback and set are recorded as such`, () =>
    withStore(async (store) => {
      let s = await store.update('m', 0, promote(null, '1.0.0'));
      s = await store.update('m', s.revision, promote('1.0.0', '1.1.0'));
      s = await store.update('m', s.revision, { ...promote('1.1.0', '1.0.0'), action: 'rollback', reason: 'bad scores' });
      s = await store.update('m', s.revision, { alias: 'candidate', from: null, to: '1.2.0', action: 'set', reason: '', forced: false, actor: 'a' });
      s = await store.update('m', s.revision, { alias: 'candidate', from: '1.2.0', to: null, action: 'clear', reason: 'canary over', forced: false, actor: 'a' });
      assert.equal(s.revision, 5);
      assert.deepEqual(s.aliases, { production: '1.0.0' });
      assert.deepEqual(s.history.map((h) => [h.alias, h.action, h.from, h.to, h.revision]), [
        ['production', 'promote', null, '1.0.0', 1],
        ['production', 'promote', '1.0.0', '1.1.0', 2],
        ['production', 'rollback', '1.1.0', '1.0.0', 3],
        ['candidate', 'set', null, '1.2.0', 4],
        ['candidate', 'clear', '1.2.0', null, 5],
      ]);
      assert.deepEqual(await store.read('m'), s);
    }));

  test(`${name}: a malformed change is refused (CF_INPUT_INVALID) and nothing is written`, () =>
    withStore(async (store) => {
      const invalid = (err: unknown) => err instanceof ChurnflowError && err.code === 'CF_INPUT_INVALID';
      await assert.rejects(store.update('m', 0, promote('0.9.0', '1.0.0')), invalid, "'from' must be the current value");
      await assert.rejects(store.update('m', 0, { ...promote(null, '1.0.0'), alias: 'staging' as never }), invalid);
      await assert.rejects(store.update('m', 0, { ...promote(null, '1.0.0'), action: 'clear' }), invalid);
      await assert.rejects(store.update('../etc', 0, promote(null, '1.0.0')), invalid, 'model names are checked');
      await assert.rejects(store.read('a/b'), invalid);
      assert.equal((await store.read('m')).revision, 0);
    }));

  test(`${name}: models are independent`, () =>
    withStore(async (store) => {
      await store.update('a', 0, promote(null, '1.0.0'));
      await store.update('b', 0, promote(null, '7.0.0'));
      await store.update('b', 1, promote('7.0.0', '7.1.0'));
      assert.deepEqual((await store.read('a')).aliases, { production: '1.0.0' });
      assert.equal((await store.read('a')).revision, 1);
      assert.deepEqual((await store.read('b')).aliases, { production: '7.1.0' });
      assert.equal((await store.read('b')).revision, 2);
    }));

  test(`${name}: history keeps the last ${HISTORY_LIMIT} changes, the revision keeps counting`, () =>
    withStore(async (store, clock) => {
      let s = await store.read('m');
      let current: string | null = null;
      for (let i = 1; i <= HISTORY_LIMIT + 5; i++) {
        clock.advance(1000);
        s = await store.update('m', s.revision, promote(current, `1.0.${i}`));
        current = `1.0.${i}`;
      }
      assert.equal(s.revision, HISTORY_LIMIT + 5);
      assert.equal(s.history.length, HISTORY_LIMIT);
      assert.equal(s.history[0]!.revision, 6);
      assert.equal(s.history.at(-1)!.to, `1.0.${HISTORY_LIMIT + 5}`);
      assert.deepEqual(await store.read('m'), s);
    }));

  test(`${name}: another store instance on the same backend sees the changes and is subject to the same CAS`, () =>
    withStore(async (store, clock, backend) => {
      const other = await backend.open(clock);
      try {
        await store.update('m', 0, promote(null, '1.0.0'));
        assert.deepEqual((await other.read('m')).aliases, { production: '1.0.0' });
        await assert.rejects(other.update('m', 0, promote(null, '1.1.0')), isConflict);
        const s = await other.update('m', 1, promote('1.0.0', '1.1.0'));
        assert.deepEqual(await store.read('m'), s);
      } finally {
        await other.close();
      }
    }));

  test(`${name}: concurrent updates with the same expected revision: exactly one wins`, () =>
    withStore(async (store, clock, backend) => {
      await store.update('m', 0, promote(null, '1.0.0'));
      // Several store instances (separate connections / separate lock holders), many updates each.
      const stores = [store, await backend.open(clock), await backend.open(clock), await backend.open(clock)];
      try {
        const attempts = Array.from({ length: 24 }, (_, i) => stores[i % stores.length]!.update('m', 1, promote('1.0.0', `2.0.${i}`, { actor: `racer-${i}` })));
        const settled = await Promise.allSettled(attempts);
        const won = settled.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
        assert.equal(won.length, 1, `exactly one update applies (won: ${won.join(', ')})`);
        for (const r of settled) if (r.status === 'rejected') assert.ok(isConflict(r.reason), `losers get CF_ALIAS_CONFLICT, got ${String(r.reason)}`);
        const final = await store.read('m');
        assert.equal(final.revision, 2);
        assert.deepEqual(final.aliases, { production: `2.0.${won[0]}` });
        assert.equal(final.history.length, 2);
        assert.equal(final.history[1]!.actor, `racer-${won[0]}`);
        // The next round, based on the winner's revision, works as usual.
        await stores[1]!.update('m', 2, promote(`2.0.${won[0]}`, '3.0.0'));
        assert.equal((await store.read('m')).revision, 3);
      } finally {
        for (const s of stores.slice(1)) await s.close();
      }
    }));

  test(`${name}: a closed store refuses calls`, () =>
    withStore(async (store, clock, backend) => {
      const other = await backend.open(clock);
      await other.close();
      await assert.rejects(other.read('m'), (err: unknown) => err instanceof ChurnflowError);
      await other.close(); // idempotent
    }));
}
