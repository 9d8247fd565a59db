import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteReader, ByteWriter } from '../../../src/state/codec/byte-io.js';

test('packed integers: every width 0..49, values up to 2^width − 1, round-trip in ceil(count × width / 8) bytes, followed by what comes next', () => {
  let seed = 7;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  for (let width = 0; width <= 49; width++) {
    for (const count of [1, 2, 3, 7, 8, 9, 40]) {
      const top = 2 ** width - 1;
      const values = Array.from({ length: count }, (_, i) => (i === 0 ? top : i === 1 ? 0 : Math.floor(next() * 2 ** width)));
      const w = new ByteWriter(4);
      w.u8(0xaa);
      w.packed(values, count, width);
      w.u8(0x55);
      const bytes = w.finish();
      assert.equal(bytes.length, 2 + Math.ceil((count * width) / 8), `width ${width} count ${count}: size`);
      const r = new ByteReader(bytes, 'test');
      assert.equal(r.u8(), 0xaa);
      assert.deepEqual(r.packed(count, width), values, `width ${width} count ${count}`);
      assert.equal(r.u8(), 0x55);
      assert.ok(r.done);
    }
  }
});

test('packed integers: a body shorter than count × width bits is refused as truncated', () => {
  const w = new ByteWriter();
  w.packed([5, 6, 7], 3, 20);
  const bytes = w.finish().subarray(0, 7);
  assert.throws(() => new ByteReader(bytes, 'customer t').packed(3, 20), /truncated/);
});
