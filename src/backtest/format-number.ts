// Number formatting for the report and the readout: fixed rules (no locale), so output is the same
// on every machine. Null and non-finite values print as an em dash.

const DASH = '—';

function groupThousands(digits: string): string {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** 1234567.891 → "1,234,568" (or with decimals: "1,234,567.89"); −0 prints as 0. */
export function formatNumber(value: number | null | undefined, decimals = 0): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return DASH;
  const fixed = Math.abs(value).toFixed(decimals);
  const negative = value < 0 && Number(fixed) !== 0;
  const [whole, frac] = fixed.split('.');
  return `${negative ? '−' : ''}${groupThousands(whole!)}${frac !== undefined ? `.${frac}` : ''}`;
}

/** Like formatNumber with an explicit + for positive values (for differences). */
export function formatSigned(value: number | null | undefined, decimals = 0): string {
  const s = formatNumber(value, decimals);
  return value !== null && value !== undefined && Number.isFinite(value) && s !== DASH && !s.startsWith('−') && Number(s.replace(/,/g, '')) !== 0 ? `+${s}` : s;
}

/** 0.1234 → "12.3%". */
export function formatPercent(value: number | null | undefined, decimals = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return DASH;
  return `${formatNumber(value * 100, decimals)}%`;
}

/** A probability or ratio with fixed decimals: 0.81234 → "0.812". */
export function formatRatio(value: number | null | undefined, decimals = 3): string {
  return formatNumber(value, decimals);
}

/** Epoch ms → "2025-03-01" (UTC). */
export function formatDate(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return DASH;
  return new Date(ms).toISOString().slice(0, 10);
}

/** A threshold as it was given: 0.07 → "0.07", 0.0656937 → "0.0657". */
export function formatThreshold(value: number): string {
  return Number(value.toPrecision(3)).toString();
}
