// Linear TreeSHAP's per-tree pass in WebAssembly with SIMD (wasm/linear-tree-shap.ts, AssemblyScript,
// compiled by `npm run build:wasm` to linear-tree-shap.wasm beside this file): the plan of
// linear-tree-shap-plan.ts is copied once into the instance's memory (its coefficients as
// wasm-coefficients.ts packs them); a call copies its rows in and
// the contributions out. Same plan, same arithmetic and summation order as tree-shap.ts's JavaScript
// pass (the fallback), so both give the same bits; two quadrature points per f64x2 instruction and
// no bounds checks make it several times cheaper per row (bench/treeshap.bench.ts).
import { readFileSync } from 'node:fs';
import { ChurnflowError, errorMessage } from '../../errors.js';
import { checkBatchArgs, checkContributionArgs } from './contribution-args.js';
import { float32Threshold } from './float32-threshold.js';
import type { LinearTreeShapPlan } from './linear-tree-shap-plan.js';
import { kernelCoefficients } from './wasm-coefficients.js';
import type { TreeShap } from './tree-shap.js';
import { wasmApi, type WasmMemory } from '../wasm-api.js';

interface KernelExports {
  layout(...addresses: number[]): void;
  explain(rows: number, count: number, width: number, out: number, bias: number): void;
}

const PAGE = 65_536;
export const WASM_KERNEL_URL = new URL('./linear-tree-shap.wasm', import.meta.url);

let compiled: { module: object } | { error: string } | undefined;

/** The compiled kernel module (once per process), or why it is not available (no file, no SIMD). */
export function wasmKernel(): { module: object } | { error: string } {
  if (compiled === undefined) {
    try {
      const api = wasmApi();
      // Synchronous compile: compileTreeShap is synchronous, and the module is 2 KB.
      compiled = { module: new api.Module(readFileSync(WASM_KERNEL_URL)) };
    } catch (err) {
      compiled = { error: `${WASM_KERNEL_URL.pathname}: ${errorMessage(err)}` };
    }
  }
  return compiled;
}

/** TreeSHAP over `plan` in its own WebAssembly instance; throws CF_SCORING_FAILED when the kernel is unavailable. */
export function compileWasmTreeShap(plan: LinearTreeShapPlan, width: number, expectedValue: number): TreeShap {
  const kernel = wasmKernel();
  if ('error' in kernel) throw new ChurnflowError('CF_SCORING_FAILED', `the WebAssembly TreeSHAP kernel is not available (${kernel.error}); run 'npm run build'`);
  const api = wasmApi();

  // Layout: every array 16-byte aligned (whole f64x2 loads), from 16 up (address 0 stays unused).
  let end = 16;
  const place = (bytes: number): number => {
    const at = end;
    end = at + Math.ceil(bytes / 16) * 16;
    return at;
  };
  const { maxTreeNodes, maxPoints } = plan;
  const nNodes = plan.split.length;
  const treeStart = place(plan.treeStart.byteLength);
  const treeBranches = place(plan.treeBranches.byteLength);
  const treePoints = place(plan.treePoints.byteLength);
  const treeRule = place(plan.nTrees * 4);
  const edges = place(nNodes * 16);
  const tests = place(nNodes * 16);
  const children = place(nNodes * 8);
  const kc = kernelCoefficients(plan);
  const coef = place(kc.values.byteLength);
  const poly = place(maxTreeNodes * maxPoints * 8);
  const sums = place((maxTreeNodes + 2) * maxPoints * 8); // and the zero slot (a twig's folded leaf), never written
  const hot = place(maxTreeNodes + 1);
  const weights = place(maxTreeNodes * 4);
  const takesTrue = place(maxTreeNodes);
  const io = end; // rows (f32) then contributions (f64) of the largest batch so far, at the end: it grows
  const memory = new api.Memory({ initial: Math.ceil((io + 16 * (width + 1) * 12) / PAGE) });
  const view = new DataView(memory.buffer);
  const bytes = new Uint8Array(memory.buffer);
  for (const [a, to] of [[plan.treeStart, treeStart], [plan.treeBranches, treeBranches], [plan.treePoints, treePoints], [kc.values, coef]] as const) {
    bytes.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), to);
  }
  // The kernel's per-node records (layout in wasm/linear-tree-shap.ts), little-endian as wasm memory is.
  for (let t = 0; t < plan.nTrees; t++) view.setInt32(treeRule + t * 4, coef + kc.ruleAt[t]!, true);
  for (let g = 0; g < nNodes; g++) {
    const e = edges + g * 16;
    view.setInt32(e, coef + kc.nodeAt[g]!, true);
    view.setInt32(e + 4, plan.parent[g]!, true);
    view.setInt32(e + 8, plan.prev[g]! < 0 ? maxTreeNodes : plan.prev[g]!, true); // no prev: the hot sentinel slot
    view.setInt32(e + 12, (Math.max(0, plan.edgeFeature[g]!) << 2) | (kc.computed[g]! << 1) | plan.isTrueEdge[g]!, true);
    const t = tests + g * 16;
    view.setFloat32(t, float32Threshold(plan.mode[g]!, plan.threshold[g]!), true);
    view.setInt32(t + 8, Math.max(0, plan.split[g]!) * 4, true);
    view.setUint8(t + 12, plan.mode[g]!);
    view.setUint8(t + 13, plan.nanTrue[g]!);
    view.setInt32(children + g * 8, plan.trueChild[g]!, true);
    view.setInt32(children + g * 8 + 4, plan.falseChild[g]!, true);
  }
  bytes.fill(1, hot, hot + maxTreeNodes + 1); // the sentinel slot (no prev) reads as a hot prev
  const instance = new api.Instance(kernel.module, { env: { memory } });
  const k = instance.exports as unknown as KernelExports;
  k.layout(plan.nTrees, treeStart, treeBranches, treePoints, treeRule, edges, tests, children, coef, poly, sums, hot, weights, takesTrue);

  // Views over the I/O area, remade when the memory grows (growing detaches the old buffer).
  let capacity = 0;
  let rowsView = new Float32Array(0);
  let outView = new Float64Array(0);
  let outAt = 0;
  const reserve = (count: number): void => {
    if (count <= capacity && rowsView.buffer === memory.buffer) return;
    capacity = Math.max(count, capacity);
    outAt = io + Math.ceil((capacity * width * 4) / 16) * 16;
    const need = outAt + capacity * (width + 1) * 8;
    if (need > memory.buffer.byteLength) memory.grow(Math.ceil((need - memory.buffer.byteLength) / PAGE));
    rowsView = new Float32Array(memory.buffer, io, capacity * width);
    outView = new Float64Array(memory.buffer, outAt, capacity * (width + 1));
  };
  reserve(16);

  return {
    width,
    expectedValue,
    get memoryBytes() {
      return memory.buffer.byteLength; // the plan lives only in here once copied
    },
    kernel: 'linear-wasm',
    plan,
    contributions(row, offset, out) {
      checkContributionArgs(width, row, offset, out);
      for (let i = 0; i < width; i++) rowsView[i] = row[offset + i]!;
      k.explain(io, 1, width, outAt, expectedValue);
      for (let i = 0; i <= width; i++) out[i] = outView[i]!;
    },
    contributionsBatch(rows, count, out) {
      checkBatchArgs(width, rows, count, out);
      reserve(count);
      rowsView.set(rows.subarray(0, count * width));
      k.explain(io, count, width, outAt, expectedValue);
      out.set(outView.subarray(0, count * (width + 1)));
    },
  };
}
