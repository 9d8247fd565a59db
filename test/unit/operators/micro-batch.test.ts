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
