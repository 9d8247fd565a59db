import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestScheduler } from 'rxjs/testing';
import { microBatch } from '../../../src/operators/micro-batch.js';

const scheduler = () => new TestScheduler((actual, expected) => assert.deepEqual(actual, expected));

test('closes a batch at maxSize', () => {
  scheduler().run(({ cold, expectObservable }) => {
    const src = cold('abcde|');
    expectObservable(src.pipe(microBatch({ maxSize: 2, maxWaitMs: 1000 }))).toBe('-x-y-(z|)', { x: ['a', 'b'], y: ['c', 'd'], z: ['e'] });
  });
});

test('closes a batch maxWaitMs after its first item, on the injected scheduler', () => {
  const ts = scheduler();
  ts.run(({ cold, expectObservable }) => {
    const src = cold('a 5ms b 20ms c 100ms |');
    // a at 0, b at 6 → batch at 10 (a's deadline); c at 27 → batch at 37; complete at 128.
    expectObservable(src.pipe(microBatch({ maxSize: 100, maxWaitMs: 10 }, ts))).toBe('10ms x 26ms y 90ms |', { x: ['a', 'b'], y: ['c'] });
  });
});

test('flushes the rest on completion and never emits empty batches', () => {
  scheduler().run(({ cold, expectObservable }) => {
    expectObservable(cold('|').pipe(microBatch({ maxSize: 3, maxWaitMs: 5 }))).toBe('|');
    expectObservable(cold('ab|').pipe(microBatch({ maxSize: 3, maxWaitMs: 5 }))).toBe('--(x|)', { x: ['a', 'b'] });
  });
});

test('errors pass through and cancel the pending timer', () => {
  scheduler().run(({ cold, expectObservable }) => {
    expectObservable(cold('a#').pipe(microBatch({ maxSize: 3, maxWaitMs: 5 }))).toBe('-#');
  });
});

// Fetch boundaries: items ending in '!' end a fetch. Downstream's activity is driven by the test.
function boundaries(idle: () => boolean, becameIdle: import('rxjs').Observable<unknown>) {
  return { endsFetch: (item: string) => item.endsWith('!'), idle, becameIdle };
}

test('closes at the end of a fetch when downstream is idle, without waiting for the timer', () => {
  const ts = scheduler();
  ts.run(({ cold, hot, expectObservable }) => {
    const src = cold('aB 20ms C 100ms |', { a: 'a', B: 'b!', C: 'c!' });
    const never = hot('-');
    // b! at 1 ends the fetch: closed at once; c! at 22 alone: closed at once; no 50 ms wait.
    expectObservable(src.pipe(microBatch({ maxSize: 100, maxWaitMs: 50 }, ts, boundaries(() => true, never)))).toBe('-x 20ms y 100ms |', { x: ['a', 'b!'], y: ['c!'] });
  });
});

test('while downstream is busy a batch keeps filling; it closes at a seen fetch end once downstream is idle', () => {
  const ts = scheduler();
  ts.run(({ cold, hot, expectObservable }) => {
    const src = cold('AbC 30ms |', { A: 'a!', b: 'b', C: 'c!' });
    const idleAt = hot('10ms i');
    // Busy until 10: a!, b, c! wait; at 10 downstream is idle and the batch (with fetch ends) closes.
    const out = src.pipe(microBatch({ maxSize: 100, maxWaitMs: 50 }, ts, boundaries(() => false, idleAt)));
    expectObservable(out).toBe('10ms x 22ms |', { x: ['a!', 'b', 'c!'] });
  });
});

test('an idle signal without a fetch end in the batch does not close it; the timer and the size still do', () => {
  const ts = scheduler();
  ts.run(({ cold, hot, expectObservable }) => {
    const src = cold('ab 30ms cde 100ms |');
    const idleAt = hot('5ms i');
    expectObservable(src.pipe(microBatch({ maxSize: 3, maxWaitMs: 20 }, ts, boundaries(() => true, idleAt)))).toBe('20ms x 13ms y 100ms |', { x: ['a', 'b'], y: ['c', 'd', 'e'] });
  });
});

test('with settle, the fetch ends of several partitions delivered together close one batch, not one per partition', () => {
  const ts = scheduler();
  ts.run(({ cold, hot, expectObservable }) => {
    const src = cold('(AbC) 20ms |', { A: 'a!', b: 'b', C: 'c!' });
    const never = hot('-');
    const settle = (close: () => void) => {
      const s = ts.schedule(close, 1);
      return () => s.unsubscribe();
    };
    const settled = { ...boundaries(() => true, never), settle };
    expectObservable(src.pipe(microBatch({ maxSize: 100, maxWaitMs: 50 }, ts, settled))).toBe('-x 23ms |', { x: ['a!', 'b', 'c!'] });
    // Without settle the first partition's end closes a batch of its own.
    expectObservable(src.pipe(microBatch({ maxSize: 100, maxWaitMs: 50 }, ts, boundaries(() => true, never)))).toBe('(xy) 21ms |', { x: ['a!'], y: ['b', 'c!'] });
  });
});

test('maxWaitMs passing while downstream is busy does not queue a batch behind it: the batch keeps filling until idle', () => {
  const ts = scheduler();
  ts.run(({ cold, hot, expectObservable }) => {
    let busy = true;
    const src = cold('a 30ms b 100ms |');
    const idleAt = hot('60ms i');
    idleAt.subscribe(() => (busy = false));
    // a at 0, its timer at 10 while busy; b at 31; idle at 60 → one batch [a, b].
    const out = src.pipe(microBatch({ maxSize: 100, maxWaitMs: 10 }, ts, boundaries(() => !busy, idleAt)));
    expectObservable(out).toBe('60ms x 71ms |', { x: ['a', 'b'] });
  });
});

test('maxSize still closes a batch while downstream is busy', () => {
  const ts = scheduler();
  ts.run(({ cold, hot, expectObservable }) => {
    const src = cold('abc 100ms |');
    const never = hot('-');
    expectObservable(src.pipe(microBatch({ maxSize: 2, maxWaitMs: 10 }, ts, boundaries(() => false, never)))).toBe('-x 101ms (y|)', { x: ['a', 'b'], y: ['c'] });
  });
});
