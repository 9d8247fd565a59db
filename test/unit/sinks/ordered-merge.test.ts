import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OrderedMerge } from '../../../src/sinks/ordered-merge.js';
import { rng } from '../../helpers/rng.js';

test('entries come out in sequence order, each once the slowest source has passed it', () => {
  const m = new OrderedMerge<string>(2);
  m.push(0, [1, 4], ['a1', 'a4'], 5);
  assert.deepEqual(m.take(), [], 'source 1 has not started');
  m.push(1, [2], ['b2'], 3);
  assert.deepEqual(m.take(), ['a1', 'b2']);
  assert.equal(m.held, 1);
  m.push(1, [], [], 6);
  assert.deepEqual(m.take(), ['a4']);
  m.push(1, [7], ['b7'], 12);
  m.advance(0, Number.POSITIVE_INFINITY);
  assert.deepEqual(m.take(4), [], 'a limit below the frontier holds back');
  assert.deepEqual(m.take(), ['b7']);
  assert.equal(m.frontier, 12);
});

test('random interleavings of sources release the single sorted stream', () => {
  const next = rng(11);
  for (let round = 0; round < 50; round++) {
    const sources = 1 + Math.floor(next() * 4);
    const m = new OrderedMerge<number>(sources);
    // Input positions 0..299, each owned by one source; a few produce an output.
    const owner = Array.from({ length: 300 }, () => Math.floor(next() * sources));
    const outputs = owner.map(() => next() < 0.3);
    const cursor = new Array<number>(sources).fill(0);
    const released: number[] = [];
    while (cursor.some((c) => c < 300)) {
      const s = Math.floor(next() * sources);
      if (cursor[s]! >= 300) continue;
      const upTo = Math.min(300, cursor[s]! + 1 + Math.floor(next() * 40));
      const seqs: number[] = [];
      for (let i = cursor[s]!; i < upTo; i++) if (owner[i] === s && outputs[i]) seqs.push(i);
      m.push(s, seqs, seqs, upTo - 1);
      cursor[s] = upTo;
      released.push(...m.take());
    }
    for (let s = 0; s < sources; s++) m.advance(s, Number.POSITIVE_INFINITY);
    released.push(...m.take());
    assert.deepEqual(released, outputs.flatMap((o, i) => (o ? [i] : [])));
    assert.equal(m.held, 0);
  }
});

test('a source that breaks its order fails loudly', () => {
  const m = new OrderedMerge<string>(2);
  m.push(0, [5], ['x'], 6);
  assert.throws(() => m.push(0, [4], ['y'], 8), /CF_REPLAY_WORKER|sequence 4 after 5/);
  assert.throws(() => m.push(1, [9], ['z'], 8), /sequence 9/, 'an entry past the progress it reports');
  assert.throws(() => m.push(1, [1, 2], ['z'], 8), /2 sequence numbers for 1 entries/);
  assert.throws(() => new OrderedMerge(0), /at least one source/);
});
