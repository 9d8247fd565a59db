// Seeded pseudo-random numbers (sfc32) and the few distributions the simulator draws from.
// Each customer and each concern (signups, late arrivals, bad records) gets its own stream, so turning
// one option on does not reshuffle everything else the same seed produced.

/** murmur3's 32-bit finaliser: spreads seed bits so nearby seeds/indices give unrelated streams. */
function mix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const TWO_POW_32 = 4_294_967_296;

/** Stream ids; the values only need to differ. */
export const STREAM = Object.freeze({ customer: 1, population: 2, late: 3, bad: 4 });

export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** `seed` may be any safe integer; `stream` and `index` pick an independent sequence under it. */
  constructor(seed: number, stream: number, index = 0) {
    const lo = seed >>> 0;
    const hi = Math.floor(seed / TWO_POW_32) >>> 0;
    let h = mix32(lo ^ 0x9e3779b9);
    h = mix32(h ^ hi ^ 0x7f4a7c15);
    h = mix32(h ^ Math.imul(stream + 1, 0x27d4eb2f));
    h = mix32(h ^ Math.imul((index >>> 0) + 1, 0x165667b1));
    this.a = h;
    this.b = mix32(h ^ 0x6a09e667);
    this.c = mix32(this.b ^ 0xbb67ae85);
    this.d = 1;
    // sfc32's first outputs are correlated with the state; discard them.
    for (let i = 0; i < 12; i++) this.next();
  }

  /** Uniform in [0, 1). */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / TWO_POW_32;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Standard normal (Box–Muller, one value per call: simpler than caching the pair, and cheap enough). */
  normal(): number {
    const u = 1 - this.next(); // (0, 1]: log(0) would be -Infinity
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Poisson count; Knuth's method is exact and fast for the small means used here. */
  poisson(mean: number): number {
    if (!(mean > 0)) return 0;
    if (mean > 30) return Math.max(0, Math.round(mean + Math.sqrt(mean) * this.normal()));
    const limit = Math.exp(-mean);
    let k = 0;
    let p = this.next();
    while (p > limit) {
      k++;
      p *= this.next();
    }
    return k;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new RangeError('pick from an empty list');
    return item;
  }
}

/** Cumulative weights for `pickWeighted`; built once per table. */
export function cumulative(weights: readonly number[]): Float64Array {
  const out = new Float64Array(weights.length);
  let sum = 0;
  weights.forEach((w, i) => {
    sum += w;
    out[i] = sum;
  });
  for (let i = 0; i < out.length; i++) out[i] = (out[i] ?? 0) / sum;
  return out;
}

/** An item of `items` drawn with the probabilities behind `cum` (built from the same table). */
export function pickWeightedItem<T>(rng: Prng, items: readonly T[], cum: Float64Array): T {
  const item = items[pickWeighted(rng, cum)];
  if (item === undefined) throw new RangeError('weights and items differ in length');
  return item;
}

/** Index drawn with the probabilities behind `cum` (from `cumulative`). */
export function pickWeighted(rng: Prng, cum: Float64Array): number {
  const u = rng.next();
  const last = cum.length - 1;
  for (let i = 0; i < last; i++) if (u < (cum[i] ?? 1)) return i;
  return last;
}
