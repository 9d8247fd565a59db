// Severity rules of the drift statistics. A test's p-value only counts together with an effect size,
// because with thousands of live values and tens of thousands of reference rows every trivial gap
// becomes "significant".
import type { DriftMonitorOptions } from './drift-options.js';

export type Severity = 'ok' | 'warn' | 'alert';

export const SEVERITY_RANK: Readonly<Record<Severity, number>> = { ok: 0, warn: 1, alert: 2 };

export function worst(a: Severity, b: Severity): Severity {
  return SEVERITY_RANK[a] >= SEVERITY_RANK[b] ? a : b;
}

export function psiSeverity(psi: number, o: DriftMonitorOptions): Severity {
  if (!(psi >= o.psiWarn)) return 'ok';
  return psi >= o.psiAlert ? 'alert' : 'warn';
}

/** KS D or a categorical distance, with its p-value. */
export function testSeverity(effect: number, pValue: number, o: DriftMonitorOptions): Severity {
  if (!(effect >= o.minEffectSize)) return 'ok';
  if (pValue < o.pValueAlert) return 'alert';
  return pValue < o.pValueWarn ? 'warn' : 'ok';
}

/** Missing rate: absolute change against the reference, confirmed by its test. */
export function missingRateSeverity(change: number, pValue: number, o: DriftMonitorOptions): Severity {
  const d = Math.abs(change);
  if (d >= o.missingRateAlert && pValue < o.pValueAlert) return 'alert';
  return d >= o.missingRateWarn && pValue < o.pValueWarn ? 'warn' : 'ok';
}

/** Predicted-positive rate: relative change against the reference share above the threshold. */
export function positiveRateSeverity(live: number, reference: number, pValue: number, o: DriftMonitorOptions): Severity {
  const rel = reference > 0 ? Math.abs(live / reference - 1) : live > 0 ? Number.POSITIVE_INFINITY : 0;
  if (rel >= o.positiveRateAlert && pValue < o.pValueAlert) return 'alert';
  return rel >= o.positiveRateWarn && pValue < o.pValueWarn ? 'warn' : 'ok';
}

/** Values outside the known categories, where the reference had none. */
export function newCategorySeverity(count: number, rows: number, o: DriftMonitorOptions): Severity {
  if (count <= 0) return 'ok';
  return rows > 0 && count / rows >= o.newCategoryShareAlert ? 'alert' : 'warn';
}
