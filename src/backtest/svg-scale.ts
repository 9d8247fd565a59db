// Axis arithmetic for the report's charts: "nice" tick values (1, 2, 5 × 10^k steps) and a linear
// mapping from data to pixels.

export interface Domain {
  readonly min: number;
  readonly max: number;
}

/** A step of 1, 2 or 5 × 10^k giving about `count` intervals over the span. */
export function niceStep(span: number, count: number): number {
  if (!(span > 0)) return 1;
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

/** Widens a domain outward to whole steps, so the axis starts and ends on a tick. */
export function niceDomain(min: number, max: number, count = 5): Domain {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return { min: 0, max: 1 };
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    return niceDomain(min - pad, max + pad, count);
  }
  const step = niceStep(max - min, count);
  return { min: roundToStep(Math.floor(min / step) * step, step), max: roundToStep(Math.ceil(max / step) * step, step) };
}

/** Tick values from min to max in nice steps (rounded so 0.30000000000000004 prints as 0.3). */
export function ticks(domain: Domain, count = 5): number[] {
  const step = niceStep(domain.max - domain.min, count);
  const out: number[] = [];
  const first = Math.ceil(domain.min / step - 1e-9);
  for (let k = first; k * step <= domain.max + step * 1e-9; k++) out.push(roundToStep(k * step, step));
  return out;
}

function roundToStep(v: number, step: number): number {
  const decimals = Math.max(0, -Math.floor(Math.log10(step)) + 1);
  return Number(v.toFixed(Math.min(20, decimals)));
}

/** Data → pixel along one axis. */
export function linearScale(domain: Domain, from: number, to: number): (v: number) => number {
  const span = domain.max - domain.min || 1;
  return (v) => from + ((v - domain.min) / span) * (to - from);
}

/** Pixel coordinates with two decimals: enough for a screen, short in the file. */
export function px(v: number): string {
  return (Math.round(v * 100) / 100).toString();
}
