import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Observable, Subject, interval, map, take, throwError } from 'rxjs';
import { App, LIFECYCLE_TRANSITIONS, nextLifecycleState, type LifecycleState } from '../../src/app.js';
import { ChurnflowError } from '../../src/errors.js';
import { createLogger } from '../../src/observability/logger.js';
import { createEngineMetrics } from '../../src/observability/metrics.js';

const STATES: readonly LifecycleState[] = ['CREATED', 'STARTING', 'RUNNING', 'DRAINING', 'STOPPED', 'FAILED'];
const silent = () => createLogger({ level: 'silent' });
const gauge = async (m: ReturnType<typeof createEngineMetrics>) => (await m.lifecycleState.get()).values[0]?.value;

test('the transition table: exactly these moves are allowed', () => {
  const allowed = STATES.flatMap((from) => LIFECYCLE_TRANSITIONS[from].map((to) => `${from}→${to}`));
  assert.deepEqual(allowed, ['CREATED→STARTING', 'CREATED→FAILED', 'STARTING→RUNNING', 'STARTING→DRAINING', 'STARTING→FAILED', 'RUNNING→DRAINING', 'RUNNING→FAILED', 'DRAINING→STOPPED', 'DRAINING→FAILED']);
  for (const from of STATES) for (const to of LIFECYCLE_TRANSITIONS[from]) assert.equal(nextLifecycleState(from, to), to);
});

test('every other move is refused with CF_LIFECYCLE naming both states', () => {
  let refused = 0;
  for (const from of STATES) {
    for (const to of STATES) {
      if (LIFECYCLE_TRANSITIONS[from].includes(to)) continue;
      assert.throws(
        () => nextLifecycleState(from, to),
        (e: unknown) => e instanceof ChurnflowError && e.code === 'CF_LIFECYCLE' && e.message.includes(`${from} → ${to}`),
      );
      refused++;
    }
  }
  assert.equal(refused, 36 - 9);
});

test('an App refuses an illegal move: run() after STOPPED throws, the state stays STOPPED', async () => {
  const app = new App(silent());
  await app.run(interval(1).pipe(take(2)));
  assert.equal(app.state, 'STOPPED');
  await assert.rejects(app.run(interval(1).pipe(take(1))), (e: unknown) => e instanceof ChurnflowError && e.code === 'CF_LIFECYCLE');
  assert.equal(app.state, 'STOPPED');
});

test('CREATED → STARTING → RUNNING → DRAINING → STOPPED, mirrored by churnflow_lifecycle_state; ready only while RUNNING', async () => {
  const metrics = createEngineMetrics({ defaultMetrics: false });
  const app = new App(silent(), metrics);
  assert.equal(app.state, 'CREATED');
  assert.equal(await gauge(metrics), 0);
  app.starting();
  assert.equal(app.state, 'STARTING');
  assert.equal(await gauge(metrics), 1);
  const job = new Subject<number>();
  const seen: { state: LifecycleState; ready: boolean }[] = [];
  const done = app.run(job, { onNext: () => seen.push({ state: app.state, ready: app.ready }) });
  job.next(1);
  assert.deepEqual(seen, [{ state: 'RUNNING', ready: true }]);
  assert.equal(await gauge(metrics), 2);
  app.onStop(() => job.complete());
  app.stop('test');
  await done;
  assert.equal(app.state, 'STOPPED');
  assert.equal(app.ready, false);
  assert.equal(await gauge(metrics), 4);
});

test('stop() leaves owned resources open until the last in-flight batch is done, then closes them in reverse order', async () => {
  const app = new App(silent());
  const events: string[] = [];
  // The models are owned first (closed last), as createEngine does.
  app.own('models', { usable: true }, (m) => {
    m.usable = false;
    events.push('close models');
  });
  const models = { usable: true };
  app.own('store', 'store', () => void events.push('close store'));
  const watcherStop = () => void events.push('watcher stopped');
  app.onStop(watcherStop);
  const job = new Subject<number>();
  const done = app.run(job, { onNext: (n) => events.push(`batch ${n}`), onDrained: async () => void events.push('drained') });
  job.next(1);
  app.stop('SIGTERM');
  assert.equal(app.state, 'DRAINING');
  // In-flight batches still arrive after stop(): nothing has been closed yet.
  job.next(2);
  job.next(3);
  assert.ok(models.usable);
  job.complete();
  await done;
  assert.deepEqual(events, ['batch 1', 'watcher stopped', 'batch 2', 'batch 3', 'drained', 'close store', 'close models']);
});

test('every close runs even when one fails', async () => {
  const app = new App(silent());
  const closed: string[] = [];
  app.own('a', 'a', () => void closed.push('a'));
  app.own('b', 'b', () => {
    throw new Error('b broke');
  });
  app.own('c', 'c', async () => void closed.push('c'));
  await app.run(interval(1).pipe(take(1)));
  assert.deepEqual(closed, ['c', 'a']);
  assert.equal(app.state, 'STOPPED');
});

test('a close that never returns is abandoned after closeTimeoutMs; the rest still close and the job still ends', async () => {
  const app = new App(silent(), undefined, 50);
  const closed: string[] = [];
  app.own('models', 'm', () => void closed.push('models'));
  app.own('consumer', 'c', () => new Promise<void>(() => {}));
  await app.run(interval(1).pipe(take(1)));
  assert.deepEqual(closed, ['models']);
  assert.equal(app.state, 'STOPPED');
});

test('a job error moves RUNNING → FAILED, closes everything, and rejects with the coded error (readiness false)', async () => {
  const metrics = createEngineMetrics({ defaultMetrics: false });
  const app = new App(silent(), metrics);
  let closed = false;
  app.own('source', 's', () => void (closed = true));
  const crash = new ChurnflowError('CF_SOURCE_FAILED', 'the Kafka consumer crashed and will not restart', { retriable: false });
  await assert.rejects(app.run(throwError(() => crash)), (e: unknown) => e === crash);
  assert.equal(app.state, 'FAILED');
  assert.equal(app.ready, false);
  assert.equal(await gauge(metrics), 5);
  assert.ok(closed);
});

test('a job error that is not a ChurnflowError is wrapped as CF_LIFECYCLE with its message', async () => {
  const app = new App(silent());
  await assert.rejects(
    app.run(interval(1).pipe(map(() => { throw new TypeError('boom'); }))),
    (e: unknown) => e instanceof ChurnflowError && e.code === 'CF_LIFECYCLE' && /boom/.test(e.message),
  );
  assert.equal(app.state, 'FAILED');
});

test('a job error while DRAINING also ends in FAILED', async () => {
  const app = new App(silent());
  const job = new Subject<number>();
  const done = app.run(job);
  app.stop();
  assert.equal(app.state, 'DRAINING');
  job.error(new ChurnflowError('CF_SINK_FAILED', 'producer gone'));
  await assert.rejects(done);
  assert.equal(app.state, 'FAILED');
});

test('start-up failure: STARTING → FAILED, what was opened is closed', async () => {
  const app = new App(silent());
  app.starting();
  let closed = false;
  app.own('http', 'h', () => void (closed = true));
  await app.abort(new Error('no model'));
  assert.equal(app.state, 'FAILED');
  assert.ok(closed);
});

test('a stop during start-up: STARTING → DRAINING → STOPPED without subscribing the job', async () => {
  const app = new App(silent());
  app.starting();
  app.stop('SIGTERM');
  assert.equal(app.state, 'DRAINING');
  let subscribed = false;
  await app.run(new Observable<number>(() => void (subscribed = true)));
  assert.equal(subscribed, false);
  assert.equal(app.state, 'STOPPED');
});

test('first SIGTERM drains, a second forces exit(130); handlers are removable', async () => {
  const app = new App(silent());
  const exits: number[] = [];
  const before = process.listenerCount('SIGTERM');
  const uninstall = app.installSignalHandlers((code) => exits.push(code));
  const job = new Subject<number>();
  app.onStop(() => {
    // Keep draining (never completes by itself), as a slow drain would.
  });
  const done = app.run(job);
  try {
    process.emit('SIGTERM', 'SIGTERM');
    assert.equal(app.state, 'DRAINING');
    assert.deepEqual(exits, []);
    process.emit('SIGTERM', 'SIGTERM');
    assert.deepEqual(exits, [130]);
  } finally {
    uninstall();
    job.complete();
    await done;
  }
  assert.equal(process.listenerCount('SIGTERM'), before);
});
