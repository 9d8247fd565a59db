// The state encoder's golden cases (test/fixtures/state/encoder-golden.json, written by
// write-codec-golden.ts with the encoder of main before its rewrite for speed): the bytes a state
// encodes to must never change for the same state (stored states, the fault tests' byte-for-byte
// comparisons), however the encoder is written. Three sources of states: simulated customers (stored
// in the fixture, so a later change of the simulator or the spec does not move them), seeded random
// states (random-states.ts; the fixture keeps a digest of each, to tell a changed generator from a
// changed encoder) and hand-made edge cases below, one per branch of the encoder.
import { createHash } from 'node:crypto';
import { DAY_MS } from '../../src/events/activity-event.js';
import type { EncodeOptions } from '../../src/state/codec/customer-codec.js';
import { emptyState, type CustomerState } from '../../src/state/customer-state.js';
import type { SlotMerge, SlotValues } from '../../src/state/slots.js';

export const GOLDEN_FILE = 'test/fixtures/state/encoder-golden.json';

/** The encodings each state is checked in: format 2 with and without a layout and the outbox, and format 1. */
export const VARIANTS = ['v2', 'v2-no-outbox', 'v2-layout', 'v2-layout-no-outbox', 'v1'] as const;
export type Variant = (typeof VARIANTS)[number];

export function variantOptions(variant: Variant, layout: ReadonlyMap<string, SlotMerge> | undefined): EncodeOptions {
  switch (variant) {
    case 'v2':
      return {};
    case 'v2-no-outbox':
      return { outbox: false };
    case 'v2-layout':
      return layout ? { layout } : {};
    case 'v2-layout-no-outbox':
      return layout ? { outbox: false, layout } : { outbox: false };
    default:
      // Format 1 ignores the layout; given anyway, as the bench and the store's migration path do.
      return layout ? { formatVersion: 1, layout } : { formatVersion: 1 };
  }
}

/** JSON that keeps every double: -0, NaN and the infinities tagged (JSON writes other doubles exactly). */
export function losslessStringify(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && (Object.is(v, -0) || !Number.isFinite(v)) ? { $n: Object.is(v, -0) ? '-0' : String(v) } : v));
}

export function losslessParse<T>(text: string): T {
  return JSON.parse(text, (_k, v: unknown) => (v !== null && typeof v === 'object' && !Array.isArray(v) && typeof (v as { $n?: unknown }).$n === 'string' && Object.keys(v).length === 1 ? Number((v as { $n: string }).$n) : v)) as T;
}

export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

export interface EdgeCase {
  readonly name: string;
  readonly state: CustomerState;
  readonly layout?: ReadonlyMap<string, SlotMerge>;
}

const D = 20_000; // a day index of 2024
const T = D * DAY_MS;

function state(id: string, buckets: Record<string, SlotValues>, extra: Partial<CustomerState> = {}): CustomerState {
  const s = emptyState(id);
  s.maxEventTime = T + 30 * DAY_MS;
  Object.assign(s, extra);
  s.buckets = buckets;
  return s;
}

const bits = (...set: number[]) => {
  const words = new Array<number>(8).fill(0);
  for (const b of set) words[b >>> 5] = (words[b >>> 5]! | (1 << (b & 31))) >>> 0;
  return words;
};

/** Hand-made states, one or more per branch of the encoder (the comment of each says which). */
export function edgeCases(): EdgeCase[] {
  const cases: EdgeCase[] = [];
  const L = (slots: string[]) => new Map(slots.map((s): [string, SlotMerge] => [s, 'add']));
  cases.push({ name: 'empty', state: emptyState('empty') });
  cases.push({ name: 'empty with layout', state: emptyState('empty-l'), layout: L(['a', 'b']) });
  // Archive only (no buckets): gap-coded rows, 'last' rows with no column value to repeat.
  cases.push({ name: 'archive only', state: state('arch', {}, { archive: { a: 5, l: [T - 1000, 'x'], z: bits(1, 2) } }), layout: L(['z', 'a', 'l']) });
  // Packed UINT counts over more than 8 buckets, a bitmap presence, IN_SAME, a COPY of an equal column.
  {
    const b: Record<string, SlotValues> = {};
    for (let i = 0; i < 21; i++) {
      const v: SlotValues = { n: 1 + (i % 3) };
      if (i % 3 !== 1) {
        v.p = 7 * i;
        v.q = 7 * i; // a COPY of p
        v.r = i % 2; // same presence as p, other values: IN_SAME
      }
      if (i % 5 === 0) v.s = 1 + i; // another bitmap
      b[String(D + i * 2)] = v;
    }
    cases.push({ name: 'packed counts, bitmaps over 21 buckets, IN_SAME, COPY', state: state('cols', b), layout: L(['n', 'p', 'q', 'r', 's', 'absent']) });
    cases.push({ name: 'same, no layout', state: state('cols2', b) });
  }
  // Times: AFTER (times of the day, packed), BEFORE (times before the day start), NEAR (two latest-time slots seconds apart), LAST and LAST_ABS.
  {
    const b: Record<string, SlotValues> = {};
    for (let i = 0; i < 12; i++) {
      const d = D - 5 + i;
      const t = d * DAY_MS + 3_600_000 + i * 77_777;
      b[String(d)] = { first: t, latest: t + 1500 + i, before: d * DAY_MS - 1000 * (i + 1), last: [t + 10, i % 4 === 0 ? 'basic' : 'pro'], lastNum: [t + 20, t + 5], lastAbs: [t + 0.5, i] };
    }
    cases.push({ name: 'times: after, before, near, last, last-abs, near-time scalars, repeated values', state: state('times', b, { archive: { last: [T - 5, 'basic'], lastNum: [T - 9, 7] } }), layout: L(['first', 'latest', 'before', 'last', 'lastNum', 'lastAbs']) });
  }
  // Mixed-kind columns: a slot that is a number in some buckets and a 'last' in others; numbers whose cheapest kinds differ; a single huge varint among small ones.
  {
    const b: Record<string, SlotValues> = {
      [String(D)]: { m: 3, x: -5, w: 2 ** 48 },
      [String(D + 1)]: { m: [T + DAY_MS + 1, null], x: 19.99, w: 1 },
      [String(D + 2)]: { m: bits(3), x: 1 / 3, w: 2 },
      [String(D + 3)]: { m: 0.25, x: Math.fround(0.7), w: 3 },
    };
    cases.push({ name: 'mixed columns', state: state('mixed', b), layout: L(['m', 'x', 'w']) });
  }
  // Edge doubles everywhere a number goes: -0, NaN, infinities, huge, float32, 8-byte doubles, money.
  {
    const nums = [0, -0, NaN, Infinity, -Infinity, 2 ** 49 - 1, 2 ** 49, 2 ** 53, 2 ** 53 + 2, -(2 ** 60), 1e21, 5e-324, Number.MAX_VALUE, Math.fround(0.7), 0.1 + 0.2, -1234.56, 123_456_789_012_345.67];
    const b: Record<string, SlotValues> = {};
    nums.forEach((v, i) => {
      b[String(D + i)] = { v, l: [v, v], k: [T + i, -v] };
    });
    cases.push({
      name: 'edge doubles in columns, archive, positions, scores',
      state: state('doubles', b, {
        archive: { v: -0, l: [NaN, -0], k: [1e21, 0.1] },
        positions: { 't/0': 2 ** 53 - 1, 't/1': -0, 'deadbeef': 0.5, 'x/2': NaN },
        lastScore: { score: 0.1 + 0.2, band: 'high', modelName: 'churn-gbdt', modelVersion: '3', eventTime: T + 29 * DAY_MS, riskEventId: 'c33c2f4455aa00ff' },
        shadowScore: null,
      }),
    });
  }
  // Absolute score and recent-event times (relative ones would not come back exactly); a shadow score; an outbox.
  cases.push({
    name: 'absolute times, shadow score, outbox',
    state: state('abs', { [String(D)]: { a: 1 } }, {
      maxEventTime: 1e21,
      recentEvents: [[2 ** 53 - 1, 0.1], [0, 1e21], [12345, -0]],
      lastScore: { score: 0.5, band: 'b', modelName: 'm', modelVersion: '1', eventTime: 0.1, riskEventId: 'ABC' },
      shadowScore: { score: -0, band: '', modelName: 'shadow', modelVersion: 'v2', eventTime: 3, riskEventId: '' },
      outbox: { 'p0@12': '{"risk":1}', 'p1@7': 'naïve 💥' },
    }),
  });
  cases.push({
    name: 'relative times, outbox',
    state: state('rel', { [String(D)]: { a: 1 } }, {
      recentEvents: [[1, T + 30 * DAY_MS - 5], [2 ** 52, T + 29 * DAY_MS]],
      lastScore: { score: 0.91, band: 'high', modelName: 'm', modelVersion: '1', eventTime: T + 30 * DAY_MS - 100, riskEventId: 'abcdef0123456789' },
      outbox: { 'activity/0@5': 'x' },
    }),
  });
  // A slot outside the layout: the dictionary form of format 2; negative day indices.
  cases.push({ name: 'slot outside the layout (dictionary form), negative days', state: state('dict', { '-3': { a: 1, stray: 2 }, '-1': { a: 2 }, '4': { stray: [5, 'q'] } }), layout: L(['a', 'b']) });
  // Bit sets: sparse (bit indices), dense (words), all 256 bits, a set of another length.
  cases.push({ name: 'bit sets', state: state('bits', { [String(D)]: { s: bits(0, 255) }, [String(D + 1)]: { s: bits(...Array.from({ length: 40 }, (_, i) => i * 6)) }, [String(D + 2)]: { s: new Array<number>(8).fill(0xffffffff), o: [1, 2, 3] }, [String(D + 3)]: { s: bits() } }, { archive: { s: bits(9) } }) });
  // Packed widths over 24 bits (the slow path) and past MAX_WIDTH (49): not packed.
  {
    const b: Record<string, SlotValues> = {};
    for (let i = 0; i < 10; i++) b[String(D + i)] = { wide: 2 ** 30 + i * 12345, wider: 2 ** 48 + i, widest: i % 2 === 0 ? 2 ** 49 - 1 : i };
    cases.push({ name: 'wide packed columns', state: state('wide', b) });
  }
  // Buckets at huge day distances (delta-coded days in several varint bytes).
  cases.push({ name: 'far-apart days', state: state('far', { '-1000000': { a: 1 }, '0': { a: 1 }, '3000000': { a: [3000000 * DAY_MS + 5, true] } }) });
  return cases;
}
