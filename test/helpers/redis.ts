// The Redis side of an integration suite: an admin connection (checked before the first test) and
// fresh key prefixes, every key under them removed after the last test.
import { after, before } from 'node:test';
import { Redis } from 'ioredis';
import { SERVICES, uniqueName } from './services.js';

export function redisTestKeys(label: string): { readonly admin: Redis; newPrefix(): string } {
  const admin = new Redis(SERVICES.redisUrl, { maxRetriesPerRequest: 1, retryStrategy: (n) => (n > 20 ? null : 100) });
  admin.on('error', () => {});
  const prefixes: string[] = [];
  before(async () => {
    try {
      await admin.ping();
    } catch (err) {
      throw new Error(`Redis is not reachable at ${SERVICES.redisUrl} (${String(err)}); start it with: npm run services -- start redis`);
    }
  });
  after(async () => {
    for (const p of prefixes) await unlinkPrefix(admin, p);
    await admin.quit();
  });
  return {
    admin,
    newPrefix() {
      const p = `${uniqueName(label)}:`;
      prefixes.push(p);
      return p;
    },
  };
}

/** Removes every key under a prefix (SCAN + UNLINK). */
export async function unlinkPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
}
