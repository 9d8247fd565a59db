// The experiment readout as a short plain-text table for the terminal.
import type { ExperimentReadout } from './experiment-readout.js';
import { formatDate, formatNumber, formatPercent } from './format-number.js';

/** Percentage points with sign: −0.0213 → "−2.13". */
function points(v: number | null): string {
  if (v === null) return '—';
  const s = formatNumber(v * 100, 2);
  return v > 0 && s !== '0.00' ? `+${s}` : s;
}

export function readoutText(r: ExperimentReadout): string {
  const t = r.test;
  const conf = formatPercent(t.confidence, 0);
  const width = Math.max(9, ...r.arms.map((a) => a.arm.length));
  const lines = [
    `Experiment readout: churn within ${r.horizonDays} days of a customer's assignment (${r.treatmentArm} vs ${r.controlArm})`,
    `  ${'arm'.padEnd(width)}  ${'customers'.padStart(9)}  ${'churned'.padStart(7)}  ${'churn rate'.padStart(10)}  left out: horizon past data / churned before`,
    ...r.arms.map(
      (a) =>
        `  ${a.arm.padEnd(width)}  ${formatNumber(a.customers).padStart(9)}  ${formatNumber(a.churned).padStart(7)}  ${formatPercent(a.churnRate, 2).padStart(10)}  ${formatNumber(a.censored)} / ${formatNumber(a.alreadyChurned)}`,
    ),
    `  difference (${r.treatmentArm} − ${r.controlArm}): ${points(t.difference)} points, ${conf} CI [${points(t.ci?.[0] ?? null)}, ${points(t.ci?.[1] ?? null)}] (unpooled standard error)`,
    `  z = ${formatNumber(t.z, 3)} (pooled standard error), two-sided p = ${t.pValue === null ? '—' : t.pValue < 0.0001 ? t.pValue.toExponential(2) : formatNumber(t.pValue, 4)}`,
    `  implied customers saved: ${formatNumber(r.impliedCustomersSaved, 1)} (${conf} CI ${formatNumber(r.impliedCustomersSavedCi?.[0], 1)} to ${formatNumber(r.impliedCustomersSavedCi?.[1], 1)}) among ${formatNumber(r.arms.find((a) => a.arm === r.treatmentArm)?.customers ?? 0)} ${r.treatmentArm} customers`,
    `  outcomes cover events up to ${r.dataEnd === null ? '—' : formatDate(r.dataEnd)}`,
    `  rule: ${r.rule}`,
  ];
  return `${lines.join('\n')}\n`;
}
