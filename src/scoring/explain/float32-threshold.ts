// A branch threshold as a float32 that splits float32 inputs exactly as the float64 one does, so the
// WebAssembly pass compares the row's float32 value with a float32 (no widening per branch) and still
// takes the JavaScript pass's direction for every input. ONNX thresholds are float32 already (then this
// is the threshold itself); any other is rounded toward the side the comparison keeps.
import { NodeMode } from './onnx-tree-ensemble.js';

const f32 = new Float32Array(1);
const bits = new Uint32Array(f32.buffer);

/** The float32 next to the float32 `f` towards -∞ (down) or +∞ (up). */
function step(f: number, down: boolean): number {
  if (f === 0) return down ? -(2 ** -149) : 2 ** -149;
  f32[0] = f;
  bits[0] = bits[0]! + (f > 0 === down ? -1 : 1); // a smaller magnitude when moving towards zero
  return f32[0];
}

/** The largest float32 ≤ t (t not NaN). */
export function float32Below(t: number): number {
  const f = Math.fround(t);
  return f <= t ? f : step(f, true);
}

/** The smallest float32 ≥ t (t not NaN). */
export function float32Above(t: number): number {
  const f = Math.fround(t);
  return f >= t ? f : step(f, false);
}

/**
 * The float32 u such that, for every float32 x other than NaN, `x op u` is `x op t` (op the node mode's
 * comparison): x ≤ t ⇔ x ≤ the largest float32 ≤ t, x < t ⇔ x < the smallest float32 ≥ t, and so on;
 * an (in)equality with a t no float32 equals never holds (never fails): NaN gives that.
 */
export function float32Threshold(mode: number, t: number): number {
  if (Number.isNaN(t)) return t;
  switch (mode) {
    case NodeMode.BRANCH_LEQ:
    case NodeMode.BRANCH_GT:
      return float32Below(t);
    case NodeMode.BRANCH_LT:
    case NodeMode.BRANCH_GTE:
      return float32Above(t);
    default: // BRANCH_EQ, BRANCH_NEQ (and leaves, never compared)
      return Math.fround(t) === t ? t : Number.NaN;
  }
}
