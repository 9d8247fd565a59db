// Writes test/fixtures/state/encoder-golden.json (see codec-golden.ts) with the encoder as built:
// run it only with an encoder known to be right (it was written with main's encoder before the
// encoder was rewritten for speed). Usage: npm run build && node dist/test/helpers/write-codec-golden.js
import { writeFileSync } from 'node:fs';
import { compileSpec } from '../../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../../src/features/default-churn-spec.js';
import { resolveSimulatorOptions } from '../../src/simulator/index.js';
import { encodeCustomer } from '../../src/state/codec/customer-codec.js';
import { eventIdHash, type CustomerState } from '../../src/state/customer-state.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import type { SlotMerge } from '../../src/state/slots.js';
import { edgeCases, GOLDEN_FILE, losslessStringify, sha256, VARIANTS, variantOptions, type Variant } from './codec-golden.js';
import { layoutOf, randomState, rng } from './random-states.js';
import { simulatedStreamDeltas } from './simulated-deltas.js';

const encodings = (state: CustomerState, layout: ReadonlyMap<string, SlotMerge> | undefined, full: boolean) =>
  Object.fromEntries(VARIANTS.map((v: Variant) => {
    const bytes = encodeCustomer(state, variantOptions(v, layout));
    return [v, full ? bytes.toString('hex') : sha256(bytes)];
  }));

const spec = compileSpec(DEFAULT_CHURN_SPEC);
const layout = spec.layout.merges;
const sim = resolveSimulatorOptions({ customers: 60, days: 120, seed: 5 });
const store = new MemoryStateStore({ layout: spec.layout });
const deltas = simulatedStreamDeltas(spec, sim);
for (let i = 0; i < deltas.length; i += 512) await store.apply(deltas.slice(i, i + 512));
const all: CustomerState[] = [];
for await (const page of store.scan()) all.push(...page);
// 30 customers spread over tenure (few to many buckets); every third with a score, recent events and an outbox as the engine keeps them.
all.sort((a, b) => Object.keys(a.buckets).length - Object.keys(b.buckets).length || (a.customerId < b.customerId ? -1 : 1));
const picked = Array.from({ length: 30 }, (_, i) => all[Math.floor((i * all.length) / 30)]!);
const simulated = picked.map((state, i) => {
  if (i % 3 === 0) {
    const t = state.maxEventTime;
    state.lastScore = { score: 0.25 + i / 100, band: i % 2 ? 'high' : 'medium', modelName: 'churn-gbdt', modelVersion: '3', eventTime: t - 1000 * i, riskEventId: sha256(state.customerId).slice(0, 32) };
    state.recentEvents = Array.from({ length: 5 + i }, (_, k): [number, number] => [eventIdHash(`${state.customerId}-${k}`), t - 60_000 * (5 + i - k)]);
    state.outbox = { [`activity/0@${1000 + i}`]: JSON.stringify({ score: state.lastScore.score, customer: state.customerId }) };
  }
  return { state, bytes: encodings(state, layout, false) };
});
const samples = picked.slice(0, 3).map((state) => ({ customerId: state.customerId, hex: encodeCustomer(state, { outbox: false, layout }).toString('hex') }));
const random = Array.from({ length: 150 }, (_, i) => {
  const seed = i + 1;
  const state = randomState(rng(seed), `cust-${seed}`);
  return { seed, input: sha256(losslessStringify(state)), bytes: encodings(state, layoutOf(state, rng(seed)), false) };
});
const edge = edgeCases().map((c) => ({ name: c.name, input: sha256(losslessStringify(c.state)), bytes: encodings(c.state, c.layout, true) }));
const fixture = {
  note: "Expected bytes of encodeCustomer, written by main's encoder (test/helpers/write-codec-golden.ts); test/unit/state/encoder-golden.test.ts re-encodes and compares byte for byte.",
  layout: [...layout],
  simulated,
  samples,
  random,
  edge,
};
writeFileSync(GOLDEN_FILE, losslessStringify(fixture) + '\n');
console.log(`wrote ${GOLDEN_FILE}: ${simulated.length} simulated, ${random.length} random, ${edge.length} edge cases`);
