// onnxruntime's LOGISTIC post-transform of a binary TreeEnsembleClassifier, in float32:
// v = 1 / (1 + expf(-|m|)), and 1 - v for m < 0 (ml_common.h, ComputeLogistic). Every operation but
// expf is a float32 operation JavaScript reproduces exactly (Math.fround of the double result: double
// rounding is innocuous for +, -, × and ÷ of float32s). expf is the C library's: within ≈0.502 ulp of
// e^x (glibc), not always the correctly rounded float32 Math.exp gives. So the probability is only
// taken from JavaScript when every float32 within 2^-26 (relative, ≈1/4–1/8 ulp) of e^-|m| gives the
// same result — it is monotone in that value, so the two ends decide; otherwise (≈1 row in a few
// thousand) the caller asks onnxruntime for that row.

/** Relative width around e^-|m| inside which expf's result is assumed to fall (besides rounding). */
const EXP_SLACK = 2 ** -26;

/** ComputeLogistic given expf(-|m|) as a float32 value. */
export function logisticFromExp(expNegAbs: number, negative: boolean): number {
  const v = Math.fround(1 / Math.fround(1 + expNegAbs));
  return negative ? Math.fround(1 - v) : v;
}

/**
 * The probability onnxruntime gives for a float32 margin m, or NaN when it depends on the last bit of
 * expf (then onnxruntime must score the row). Margins beyond ±80 (near expf's underflow) are left to it too.
 */
export function settledLogistic(m: number): number {
  const a = Math.abs(m);
  if (!(a <= 80)) return Number.NaN;
  const y = Math.exp(-a);
  const negative = m < 0;
  const low = logisticFromExp(Math.fround(y * (1 - EXP_SLACK)), negative);
  return low === logisticFromExp(Math.fround(y * (1 + EXP_SLACK)), negative) ? low : Number.NaN;
}
