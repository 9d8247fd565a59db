// Agreement between production and a shadow model over the latest N scored customers: Pearson
// correlation of the scores, band flips, and the share above each model's own threshold. A ring of
// pairs keeps memory bounded and lets the figures follow the current traffic.
import { bandOf } from './bands.js';
import type { ScoringRef } from './scoring-ref.js';

export interface AgreementFigures {
  readonly pairs: number;
  readonly correlation: number;
  readonly bandFlips: number;
  readonly productionAbove: number;
  readonly shadowAbove: number;
}

export class ShadowAgreement {
  private readonly a: Float64Array;
  private readonly b: Float64Array;
  private readonly flips: Uint8Array;
  private readonly aboveA: Uint8Array;
  private readonly aboveB: Uint8Array;
  private n = 0;
  private next = 0;

  constructor(readonly capacity = 10_000) {
    this.a = new Float64Array(capacity);
    this.b = new Float64Array(capacity);
    this.flips = new Uint8Array(capacity);
    this.aboveA = new Uint8Array(capacity);
    this.aboveB = new Uint8Array(capacity);
  }

  /** Adds pairs; returns how many of them flipped band. */
  add(production: ScoringRef, shadow: ScoringRef, prodScores: ArrayLike<number>, shadowScores: ArrayLike<number>): number {
    let flipped = 0;
    for (let i = 0; i < prodScores.length; i++) {
      const x = prodScores[i]!;
      const y = shadowScores[i]!;
      if (Number.isNaN(x) || Number.isNaN(y)) continue;
      const j = this.next;
      this.a[j] = x;
      this.b[j] = y;
      // Bands are compared by rank: models may name their bands alike but cut them differently.
      const f = rank(x, production) !== rank(y, shadow) ? 1 : 0;
      this.flips[j] = f;
      flipped += f;
      this.aboveA[j] = x >= production.decision.threshold ? 1 : 0;
      this.aboveB[j] = y >= shadow.decision.threshold ? 1 : 0;
      this.next = (j + 1) % this.capacity;
      if (this.n < this.capacity) this.n++;
    }
    return flipped;
  }

  figures(): AgreementFigures {
    const n = this.n;
    let sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0, flips = 0, aa = 0, ab = 0;
    for (let i = 0; i < n; i++) {
      const x = this.a[i]!;
      const y = this.b[i]!;
      sa += x; sb += y; saa += x * x; sbb += y * y; sab += x * y;
      flips += this.flips[i]!; aa += this.aboveA[i]!; ab += this.aboveB[i]!;
    }
    const cov = sab - (sa * sb) / n;
    const va = saa - (sa * sa) / n;
    const vb = sbb - (sb * sb) / n;
    const correlation = n > 1 && va > 0 && vb > 0 ? cov / Math.sqrt(va * vb) : Number.NaN;
    return { pairs: n, correlation, bandFlips: n ? flips / n : Number.NaN, productionAbove: n ? aa / n : Number.NaN, shadowAbove: n ? ab / n : Number.NaN };
  }

  reset(): void {
    this.n = 0;
    this.next = 0;
  }
}

function rank(score: number, ref: ScoringRef): number {
  const bands = ref.decision.bands;
  return bands.findIndex((b) => b.name === bandOf(score, bands));
}
