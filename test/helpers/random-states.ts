// Seeded random customer states for the codec's tests: edge doubles, negative and huge day indices
// and offsets, every slot kind, columns equal to others and 'last' values that repeat (what format 2
// writes by reference). Deterministic per seed; the encoder's golden fixture (codec-golden.ts) relies on
// that, so change a generator only together with that fixture.
import { DAY_MS, type Scalar } from '../../src/events/activity-event.js';
import { emptyState, eventIdHash, type CustomerState, type LastScore } from '../../src/state/customer-state.js';
import type { SlotMerge, SlotValue, SlotValues } from '../../src/state/slots.js';
import { rng } from './rng.js';

export { rng };

export const EDGE_NUMBERS = [0, -0, 1, -1, 0.1, 0.2, 0.1 + 0.2, 19.99, -1234.56, 1 / 3, 5e-324, -5e-324, Number.MAX_VALUE, -Number.MAX_VALUE, 2 ** 49 - 1, 2 ** 49, 2 ** 53, 2 ** 53 + 2, -(2 ** 60), 1e21, 123_456_789_012_345.67, Math.fround(0.7), 1e-7, Number.MIN_VALUE * 3];
export const STRINGS = ['', 'a', 'ab', 'AB', 'abc', '0f', 'deadbeef', 'DEADBEEF', 'naïve "quoted" \\ / \n', '💥 emoji', 'p0@12', 'topic/3', 'a'.repeat(300), 'c33c2f4455'];

export function randomNumber(r: () => number): number {
  const k = r();
  if (k < 0.3) return EDGE_NUMBERS[Math.floor(r() * EDGE_NUMBERS.length)]!;
  if (k < 0.5) return Math.floor(r() * 1000) - 200;
  if (k < 0.65) return Math.round((r() - 0.3) * 1e6) / 100; // money with cents
  if (k < 0.8) return (r() - 0.5) * 10 ** Math.floor(r() * 40 - 20);
  const buf = Buffer.alloc(8);
  for (let i = 0; i < 8; i++) buf[i] = Math.floor(r() * 256);
  const v = buf.readDoubleLE(0); // any bit pattern, NaN excluded (states never hold NaN)
  return Number.isNaN(v) ? 0.5 : v;
}

export function randomString(r: () => number): string {
  return r() < 0.6 ? STRINGS[Math.floor(r() * STRINGS.length)]! : Math.floor(r() * 2 ** 40).toString(16);
}

export function randomScalar(r: () => number): Scalar {
  const k = r();
  return k < 0.1 ? null : k < 0.2 ? r() < 0.5 : k < 0.6 ? randomNumber(r) : randomString(r);
}

export function randomSlots(r: () => number, day: number | undefined, slots: readonly string[]): SlotValues {
  const out: SlotValues = {};
  for (const slot of slots) {
    if (r() < 0.4) continue;
    const k = r();
    let v: SlotValue;
    if (k < 0.5) v = randomNumber(r);
    else if (k < 0.8) {
      const t = day === undefined ? randomNumber(r) : r() < 0.9 ? day * DAY_MS + Math.floor(r() * DAY_MS) : randomNumber(r);
      v = [t, randomScalar(r)];
    } else {
      const words = new Array<number>(8).fill(0);
      const bits = r() < 0.2 ? 256 : Math.floor(r() * 12);
      for (let i = 0; i < bits; i++) {
        const b = bits === 256 ? i : Math.floor(r() * 256);
        words[b >>> 5] = (words[b >>> 5]! | (1 << (b & 31))) >>> 0;
      }
      v = words;
    }
    out[slot] = v;
  }
  return out;
}

export function randomScore(r: () => number): LastScore {
  return { score: r() < 0.5 ? r() : randomNumber(r), band: randomString(r), modelName: randomString(r), modelVersion: randomString(r), eventTime: r() < 0.8 ? Math.floor(r() * 2e12) : randomNumber(r), riskEventId: r() < 0.7 ? Math.floor(r() * 2 ** 48).toString(16).padStart(32, '0') : randomString(r) };
}

export function randomState(r: () => number, id: string): CustomerState {
  const s = emptyState(id);
  const slots = Array.from({ length: 1 + Math.floor(r() * 30) }, (_, i) => (r() < 0.5 ? `s${i}` : Math.floor(r() * 2 ** 40).toString(16).padStart(10, '0')));
  const huge = r() < 0.2;
  s.maxEventTime = r() < 0.8 ? Math.floor(r() * 2e12) : randomNumber(r);
  const latestDay = Math.floor(s.maxEventTime / DAY_MS);
  const firstDay = huge ? -Math.floor(r() * 1e6) : Math.abs(latestDay) < 1e9 ? latestDay - 100 : 0;
  for (let i = 0, n = Math.floor(r() * 95); i < n; i++) {
    const day = firstDay + Math.floor(r() * (huge ? 3e6 : 100));
    s.buckets[String(day)] = randomSlots(r, day, slots);
  }
  if (r() < 0.7) s.archive = randomSlots(r, undefined, slots);
  const days = Object.keys(s.buckets).map(Number).sort((a, b) => a - b);
  // What format 2 writes by reference: a slot equal to another in every bucket, 'last' values that repeat.
  if (r() < 0.5 && slots.length > 1) {
    const [from, to] = [slots[0]!, slots[slots.length - 1]!];
    for (const d of days) {
      const b = s.buckets[String(d)]!;
      if (b[from] === undefined) delete b[to];
      else b[to] = b[from]!;
    }
  }
  if (r() < 0.5) {
    const previous = new Map<string, Scalar>();
    for (const d of days) {
      const b = s.buckets[String(d)]!;
      for (const slot in b) {
        const v = b[slot]!;
        if (!(Array.isArray(v) && v.length === 2)) continue;
        if (previous.has(slot) && r() < 0.6) b[slot] = [v[0] as number, previous.get(slot)!];
        previous.set(slot, (b[slot] as readonly [number, Scalar])[1]);
      }
    }
  }
  for (let i = 0, n = Math.floor(r() * 5); i < n; i++) s.positions[randomString(r) || `t${i}`] = r() < 0.3 ? 2 ** 53 - Math.floor(r() * 100) : r() < 0.5 ? Math.floor(r() * 1e9) : randomNumber(r);
  for (let i = 0, n = Math.floor(r() * 66); i < n; i++) s.recentEvents.push([eventIdHash(`e${r()}`), r() < 0.9 ? s.maxEventTime - Math.floor(r() * 3.6e6) : randomNumber(r)]);
  if (r() < 0.6) s.lastScore = randomScore(r);
  const shadow = r();
  if (shadow < 0.3) s.shadowScore = randomScore(r);
  else if (shadow < 0.4) s.shadowScore = null;
  for (let i = 0, n = r() < 0.5 ? 0 : Math.floor(r() * 4); i < n; i++) s.outbox[`p${i}@${Math.floor(r() * 1e6)}`] = JSON.stringify({ risk: { score: randomNumber(r), text: randomString(r) } });
  return s;
}

/** A layout holding every slot of the state (and one more), in a seeded order. */
export function layoutOf(state: CustomerState, r: () => number): Map<string, SlotMerge> {
  const slots = new Set([...Object.keys(state.archive), ...Object.values(state.buckets).flatMap((b) => Object.keys(b)), 'unused-slot']);
  return new Map([...slots].sort(() => r() - 0.5).map((slot) => [slot, 'add' as const]));
}
