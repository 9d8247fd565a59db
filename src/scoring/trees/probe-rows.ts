// Rows that reach every side of an ensemble's splits: each column takes one of its thresholds, the
// float32 just below or above it, a value further off, or NaN. Seeded, so a failing check replays.
import { NodeMode, type TreeEnsemble } from '../explain/onnx-tree-ensemble.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The neighbouring float32 of a finite float32 `f` (towards +∞ when up). */
function nextFloat32(f: number, up: boolean): number {
  if (f === 0) return up ? 2 ** -149 : -(2 ** -149);
  f32[0] = f;
  u32[0] = u32[0]! + ((f > 0) === up ? 1 : -1);
  return f32[0];
}

export function probeRows(e: TreeEnsemble, width: number, count: number, seed: number): Float32Array {
  let state = seed >>> 0;
  const rand = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
  const byColumn: number[][] = Array.from({ length: width }, () => []);
  for (let k = 0; k < e.nNodes; k++) if (e.mode[k] !== NodeMode.LEAF && e.feature[k]! < width) byColumn[e.feature[k]!]!.push(e.threshold[k]!);
  const rows = new Float32Array(count * width);
  for (let i = 0; i < rows.length; i++) {
    const ts = byColumn[i % width]!;
    const u = rand();
    if (u < 0.05 || ts.length === 0) {
      rows[i] = u < 0.05 ? Number.NaN : rand() * 100;
      continue;
    }
    const t = Math.fround(ts[Math.floor(rand() * ts.length)]!);
    rows[i] = !Number.isFinite(t) ? t : u < 0.35 ? t : u < 0.55 ? nextFloat32(t, false) : u < 0.75 ? nextFloat32(t, true) : t + (rand() - 0.5) * (Math.abs(t) + 1);
  }
  return rows;
}
