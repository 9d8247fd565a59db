// Thins a curve for drawing (a ROC curve has a point per distinct score): keeps the ends and every point
// at least `minStep` from the last kept one, so the drawn shape stays that close to the exact curve.
import type { CurvePoint } from './metrics.js';

export function thinCurve(points: readonly CurvePoint[], minStep = 1 / 400): CurvePoint[] {
  if (points.length <= 2) return [...points];
  const out: CurvePoint[] = [points[0]!];
  for (let i = 1; i < points.length - 1; i++) {
    const p = points[i]!;
    const last = out[out.length - 1]!;
    if (Math.hypot(p.x - last.x, p.y - last.y) >= minStep) out.push(p);
  }
  out.push(points[points.length - 1]!);
  return out;
}
