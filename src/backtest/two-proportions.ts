// Difference of two proportions (treatment − control): z-test with the pooled standard error (the null
// says the rates are equal), Wald interval with the unpooled one (no such assumption around the estimate).
import { normalQuantile, twoSidedP } from './normal-distribution.js';

export interface TwoProportionTest {
  readonly treatmentRate: number | null;
  readonly controlRate: number | null;
  /** treatmentRate − controlRate. */
  readonly difference: number | null;
  readonly pooledSe: number | null;
  readonly unpooledSe: number | null;
  readonly z: number | null;
  readonly pValue: number | null;
  readonly confidence: number;
  readonly ci: readonly [number, number] | null;
}

/**
 * x_t of n_t treatment and x_c of n_c control customers churned. Null where undefined: an empty arm,
 * or (z, p) when the pooled rate is 0 or 1 (no variance to test against).
 */
export function twoProportionTest(xT: number, nT: number, xC: number, nC: number, confidence = 0.95): TwoProportionTest {
  for (const [name, v] of [['x_t', xT], ['n_t', nT], ['x_c', xC], ['n_c', nC]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`${name} must be a whole number >= 0, got ${v}`);
  }
  if (xT > nT || xC > nC) throw new RangeError(`churned cannot exceed customers (${xT}/${nT}, ${xC}/${nC})`);
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`confidence must be in (0, 1), got ${confidence}`);
  const empty = { treatmentRate: nT === 0 ? null : xT / nT, controlRate: nC === 0 ? null : xC / nC, difference: null, pooledSe: null, unpooledSe: null, z: null, pValue: null, confidence, ci: null };
  if (nT === 0 || nC === 0) return empty;
  const pT = xT / nT;
  const pC = xC / nC;
  const difference = pT - pC;
  const pooled = (xT + xC) / (nT + nC);
  const pooledSe = Math.sqrt(pooled * (1 - pooled) * (1 / nT + 1 / nC));
  const unpooledSe = Math.sqrt((pT * (1 - pT)) / nT + (pC * (1 - pC)) / nC);
  const z = pooledSe > 0 ? difference / pooledSe : null;
  const half = normalQuantile(1 - (1 - confidence) / 2) * unpooledSe;
  return {
    treatmentRate: pT,
    controlRate: pC,
    difference,
    pooledSe,
    unpooledSe,
    z,
    pValue: z === null ? null : twoSidedP(z),
    confidence,
    ci: [difference - half, difference + half],
  };
}
