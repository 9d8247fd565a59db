// The Redis benches' connection: checked before any work, so a bench without Redis exits 2 with how
// to start it instead of a stack trace from the middle of a run.
import { Redis } from 'ioredis';
import { errorMessage } from '../src/errors.js';
import { DEFAULT_REDIS_OPTIONS } from '../src/state/redis-store.js';

export async function benchRedis(bench: string, url: string): Promise<Redis> {
  const client = new Redis(url, { ...DEFAULT_REDIS_OPTIONS, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000 });
  let connectError: unknown;
  client.on('error', (err: unknown) => {
    connectError = err;
  });
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    console.error(`${bench} bench: Redis is not reachable at ${url} (${errorMessage(connectError ?? err)}).`);
    console.error(`Start it first (the bench starts nothing itself): npm run services -- start redis; then npm run bench -- ${bench}`);
    client.disconnect();
    process.exit(2);
  }
  return client;
}
