// RedisAliasStore against the real Redis on loopback (npm run services -- start redis): the shared
// alias-store contract (each test on a fresh key prefix, several connections racing in the CAS case),
// the key layout, a foreign value under the key, and an unreachable server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { ChurnflowError } from '../../src/errors.js';
import { RedisAliasStore } from '../../src/registry/redis-alias-store.js';
import keySlot from 'cluster-key-slot';
import { ManualClock } from '../../src/time/clock.js';
import { aliasStoreContract, promote } from '../contract/alias-store.contract.js';
import { SERVICES } from '../helpers/services.js';
import { redisTestKeys } from '../helpers/redis.js';

const { admin, newPrefix } = redisTestKeys('cf-alias-it');

aliasStoreContract('redis alias store', async () => {
  const keyPrefix = newPrefix();
  return {
    // Every open() is its own connection, as separate hosts would have.
    open: async (clock) => new RedisAliasStore({ url: SERVICES.redisUrl, keyPrefix, clock }),
    cleanup: async () => {},
  };
});

test('redis alias store: one JSON string per model at <prefix>model:{<name>}, every model in its own hash slot', async () => {
  const keyPrefix = newPrefix();
  const store = new RedisAliasStore({ url: SERVICES.redisUrl, keyPrefix, clock: new ManualClock(1000) });
  try {
    await store.update('churn-gbdt', 0, promote(null, '1.0.0', { actor: 'a@h' }));
    const key = `${keyPrefix}model:{churn-gbdt}`;
    assert.equal(store.keyOf('churn-gbdt'), key);
    assert.equal(await admin.type(key), 'string');
    assert.deepEqual(JSON.parse((await admin.get(key))!), {
      format: 'churnflow.aliases/v1',
      name: 'churn-gbdt',
      revision: 1,
      aliases: { production: '1.0.0' },
      history: [{ alias: 'production', action: 'promote', from: null, to: '1.0.0', reason: 'promote 1.0.0', forced: false, actor: 'a@h', at: 1000, revision: 1 }],
    });
    assert.equal(keySlot(key), keySlot('churn-gbdt'), 'the hash tag is the model name');
    assert.throws(() => new RedisAliasStore({ url: SERVICES.redisUrl, keyPrefix: 'a{b}:' }), /must not contain/);
  } finally {
    await store.close();
  }
});

test('redis alias store: a write between the read and the compare-and-set makes the update conflict (the Lua CAS decides)', async () => {
  const keyPrefix = newPrefix();
  const client = new Redis(SERVICES.redisUrl);
  const store = new RedisAliasStore({ redis: client, keyPrefix });
  try {
    await store.update('m', 0, promote(null, '1.0.0'));
    const key = store.keyOf('m');
    // Another host's write lands right after this store's GET: same revision, other content.
    const sneaky = (await admin.get(key))!.replace('"1.0.0"', '"9.9.9"');
    const get = client.get.bind(client);
    (client as unknown as { get: (k: string) => Promise<string | null> }).get = async (k: string) => {
      const v = await get(k);
      await admin.set(k, sneaky);
      return v;
    };
    await assert.rejects(store.update('m', 1, promote('1.0.0', '2.0.0')), (e: unknown) => e instanceof ChurnflowError && e.code === 'CF_ALIAS_CONFLICT' && e.retriable);
    assert.equal(await admin.get(key), sneaky, 'the CAS wrote nothing');
  } finally {
    await store.close();
    await client.quit();
  }
});

test('redis alias store: a foreign value under the key is an error naming it, never read as empty', async () => {
  const keyPrefix = newPrefix();
  const store = new RedisAliasStore({ url: SERVICES.redisUrl, keyPrefix });
  try {
    await store.update('m', 0, promote(null, '1.0.0'));
    const key = store.keyOf('m');
    await admin.set(key, 'not json');
    await assert.rejects(store.read('m'), (e: unknown) => e instanceof ChurnflowError && e.code === 'CF_ALIAS_STORE_FAILED' && e.message.includes(key));
    await admin.del(key);
    await admin.hset(key, 'revision', '1');
    await assert.rejects(store.read('m'), (e: unknown) => e instanceof ChurnflowError && e.code === 'CF_ALIAS_STORE_FAILED' && !e.retriable && /WRONGTYPE/.test(e.message));
    await admin.del(key);
    assert.equal((await store.read('m')).revision, 0, 'a deleted key reads as nothing stored');
  } finally {
    await store.close();
  }
});

test('redis alias store: an unreachable server is a retriable CF_ALIAS_STORE_FAILED, and close() returns', async () => {
  const store = new RedisAliasStore({ url: 'redis://127.0.0.1:1', redisOptions: { maxRetriesPerRequest: 1, retryStrategy: () => 50, connectTimeout: 500 } });
  try {
    await assert.rejects(store.read('m'), (e: unknown) => e instanceof ChurnflowError && e.code === 'CF_ALIAS_STORE_FAILED' && e.retriable);
  } finally {
    await store.close();
  }
});
