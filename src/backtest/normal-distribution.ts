// The standard normal distribution to full double precision, for p-values and confidence intervals:
// W. J. Cody's rational approximations (as in R's pnorm) and a Newton-refined quantile.

const A = [2.2352520354606839287, 161.02823106855587881, 1067.6894854603709582, 18154.981253343561249, 0.065682337918207449113];
const B = [47.20258190468824187, 976.09855173777669322, 10260.932208618978205, 45507.789335026729956];
const C = [
  0.39894151208813466764, 8.8831497943883759412, 93.506656132177855979, 597.27027639480026226, 2494.5375852903726711, 6848.1904505362823326,
  11602.651437647350124, 9842.7148383839780218, 1.0765576773720192317e-8,
];
const D = [
  22.266688044328115691, 235.38790178262499861, 1519.377599407554805, 6485.558298266760755, 18615.571640885098091, 34900.952721145977266,
  38912.003286093271411, 19685.429676859990727,
];
const P = [0.21589853405795699, 0.1274011611602473639, 0.022235277870649807, 0.001421619193227893466, 2.9112874951168792e-5, 0.02307344176494017303];
const Q = [1.28426009614491121, 0.468238212480865118, 0.0659881378689285515, 0.00378239633202758244, 7.29751555083966205e-5];
const ONE_OVER_SQRT_2PI = 0.398942280401432677939946059934;
const SQRT_32 = 5.656854249492380195206754896838;

/** exp(−y²/2)·r, splitting y so that y² loses no bits for large y (Cody). */
function gaussTail(y: number, r: number): number {
  const ysq = Math.trunc(y * 16) / 16;
  const del = (y - ysq) * (y + ysq);
  return Math.exp(-ysq * ysq * 0.5) * Math.exp(-del * 0.5) * r;
}

/** P(Z > z) for the standard normal, accurate in the far tails (no 1 − Φ cancellation). */
export function normalUpperTail(z: number): number {
  if (Number.isNaN(z)) return Number.NaN;
  const y = Math.abs(z);
  let upperOfAbs: number; // P(Z > |z|)
  if (y <= 0.67448975) {
    let num = 0;
    let den = 0;
    if (y > Number.EPSILON * 0.5) {
      const ysq = y * y;
      num = A[4]! * ysq;
      den = ysq;
      for (let i = 0; i < 3; i++) {
        num = (num + A[i]!) * ysq;
        den = (den + B[i]!) * ysq;
      }
    }
    upperOfAbs = 0.5 - (y * (num + A[3]!)) / (den + B[3]!);
  } else if (y <= SQRT_32) {
    let num = C[8]! * y;
    let den = y;
    for (let i = 0; i < 7; i++) {
      num = (num + C[i]!) * y;
      den = (den + D[i]!) * y;
    }
    upperOfAbs = gaussTail(y, (num + C[7]!) / (den + D[7]!));
  } else if (y < 37.5193) {
    const ysq = 1 / (y * y);
    let num = P[5]! * ysq;
    let den = ysq;
    for (let i = 0; i < 4; i++) {
      num = (num + P[i]!) * ysq;
      den = (den + Q[i]!) * ysq;
    }
    const r = (ysq * (num + P[4]!)) / (den + Q[4]!);
    upperOfAbs = gaussTail(y, (ONE_OVER_SQRT_2PI - r) / y);
  } else {
    upperOfAbs = 0;
  }
  return z >= 0 ? upperOfAbs : 1 - upperOfAbs;
}

/** Φ(z) = P(Z ≤ z). */
export function normalCdf(z: number): number {
  return z <= 0 ? normalUpperTail(-z) : 1 - normalUpperTail(z);
}

/** Two-sided p-value of a z statistic: P(|Z| ≥ |z|). */
export function twoSidedP(z: number): number {
  return Math.min(1, 2 * normalUpperTail(Math.abs(z)));
}

/** z with Φ(z) = p, p in (0, 1): Newton on the upper tail from a logistic first guess. */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile needs p in (0, 1), got ${p}`);
  if (p === 0.5) return 0;
  // Solve P(Z > z) = tail for z > 0 and mirror, so small tails keep their precision.
  const tail = p < 0.5 ? p : 1 - p;
  let z = Math.sqrt(-2 * Math.log(tail)); // within ~1 of the answer for every tail
  for (let i = 0; i < 100; i++) {
    const density = ONE_OVER_SQRT_2PI * Math.exp(-0.5 * z * z);
    const step = (normalUpperTail(z) - tail) / density;
    z += step;
    if (Math.abs(step) <= 1e-15 * Math.max(1, z)) break;
  }
  return p < 0.5 ? -z : z;
}
