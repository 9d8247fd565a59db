// The encoder's output, byte for byte, against the golden fixture written by main's encoder before it
// was rewritten for speed (test/helpers/codec-golden.ts says what the cases are). Any change of a byte
// for the same state fails here: stored states and the fault tests' comparisons rely on it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decodeCustomer, encodeCustomer } from '../../../src/state/codec/customer-codec.js';
import type { CustomerState } from '../../../src/state/customer-state.js';
import type { SlotMerge } from '../../../src/state/slots.js';
import { edgeCases, GOLDEN_FILE, losslessParse, losslessStringify, sha256, VARIANTS, variantOptions } from '../../helpers/codec-golden.js';
import { layoutOf, randomState, rng } from '../../helpers/random-states.js';

type Bytes = Record<(typeof VARIANTS)[number], string>;
interface Fixture {
  layout: [string, SlotMerge][];
  simulated: { state: CustomerState; bytes: Bytes }[];
  samples: { customerId: string; hex: string }[];
  random: { seed: number; input: string; bytes: Bytes }[];
  edge: { name: string; input: string; bytes: Bytes }[];
}

const fixture = losslessParse<Fixture>(readFileSync(new URL(`../../../../${GOLDEN_FILE}`, import.meta.url), 'utf8'));
const layout = new Map(fixture.layout);

function check(state: CustomerState, l: ReadonlyMap<string, SlotMerge> | undefined, expected: Bytes, full: boolean, label: string): void {
  for (const v of VARIANTS) {
    const bytes = encodeCustomer(state, variantOptions(v, l));
    if (full) assert.equal(bytes.toString('hex'), expected[v], `${label}, ${v}`);
    else assert.equal(sha256(bytes), expected[v], `${label}, ${v}: bytes differ from the golden encoding`);
  }
  // Twice in a row: an encoder reusing scratch space must not leak one call into the next.
  assert.ok(encodeCustomer(state, variantOptions('v2-layout', l)).equals(encodeCustomer(state, variantOptions('v2-layout', l))), `${label}: same bytes twice`);
}

test('golden: simulated customers after 120 days encode to the very bytes main wrote (format 2 with and without layout and outbox, format 1)', () => {
  assert.equal(fixture.simulated.length, 30);
  for (const { state, bytes } of fixture.simulated) check(state, layout, bytes, false, state.customerId);
  for (const { customerId, hex } of fixture.samples) {
    const state = fixture.simulated.find((s) => s.state.customerId === customerId)!.state;
    assert.equal(encodeCustomer(state, { outbox: false, layout }).toString('hex'), hex, customerId);
    assert.deepStrictEqual(decodeCustomer(customerId, Buffer.from(hex, 'hex'), layout), { ...state, outbox: {} });
  }
});

test('golden: 150 seeded random states (edge doubles, huge and negative days, every slot kind) encode to the very bytes main wrote', () => {
  for (const { seed, input, bytes } of fixture.random) {
    const state = randomState(rng(seed), `cust-${seed}`);
    assert.equal(sha256(losslessStringify(state)), input, `seed ${seed}: the random state generator changed (test/helpers/random-states.ts), not the encoder`);
    check(state, layoutOf(state, rng(seed)), bytes, false, `seed ${seed}`);
  }
});

test('golden: hand-made edge cases (every branch of the encoder) encode to the very bytes main wrote', () => {
  const cases = edgeCases();
  assert.equal(cases.length, fixture.edge.length);
  cases.forEach((c, i) => {
    const expected = fixture.edge[i]!;
    assert.equal(c.name, expected.name);
    assert.equal(sha256(losslessStringify(c.state)), expected.input, `${c.name}: the case changed, not the encoder`);
    check(c.state, c.layout, expected.bytes, true, c.name);
  });
});
