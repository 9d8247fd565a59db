// A tree ensemble's margin as a WebAssembly module generated at load: each tree becomes nested
// `if … else … end` blocks over constant float32 thresholds, a few trees to a function, each function
// looping over the batch's rows. WebAssembly rather than generated JavaScript: the same code as
// JavaScript ran ≈40 µs a row until V8 had optimised it (≈1.5 s of CPU over the first ≈70,000 rows of
// the bundled model), WebAssembly is compiled before its first call. Bit for bit onnxruntime's margin
// (TreeEnsembleClassifier, float input): float32 inputs compared with float32 thresholds as the node
// mode says (f32.le etc.; a NaN fails every comparison but NEQ, and takes the true branch where
// missing_value_tracks_true is set), the leaf values added in float32 tree after tree in the
// ensemble's order, from 0 as onnxruntime's. Rows are written straight into the module's memory.
import { NodeMode, type TreeEnsemble } from '../explain/onnx-tree-ensemble.js';
import { wasmApi, type WasmMemory } from '../wasm-api.js';

/** Nodes per generated function (keeps each function a size V8's optimising tier compiles quickly). */
const NODES_PER_FUNCTION = 640;
const PAGE = 65_536;

// Opcodes (WebAssembly core spec 1.0).
const OP = {
  block: 0x02, loop: 0x03, if: 0x04, else: 0x05, end: 0x0b, brIf: 0x0d, call: 0x10,
  localGet: 0x20, localSet: 0x21, localTee: 0x22,
  f32Load: 0x2a, f32Store: 0x38, i32Const: 0x41, f32Const: 0x43,
  i32Eqz: 0x45, i32LtU: 0x49, f32Eq: 0x5b, f32Ne: 0x5c, f32Lt: 0x5d, f32Gt: 0x5e, f32Le: 0x5f, f32Ge: 0x60,
  i32Add: 0x6a, i32Shl: 0x74, i32Or: 0x72, f32Add: 0x92,
} as const;
const I32 = 0x7f;
const F32 = 0x7d;
const VOID = 0x40;

const COMPARISON: Readonly<Record<number, number>> = {
  [NodeMode.BRANCH_LEQ]: OP.f32Le,
  [NodeMode.BRANCH_LT]: OP.f32Lt,
  [NodeMode.BRANCH_GTE]: OP.f32Ge,
  [NodeMode.BRANCH_GT]: OP.f32Gt,
  [NodeMode.BRANCH_EQ]: OP.f32Eq,
  [NodeMode.BRANCH_NEQ]: OP.f32Ne,
};

class Bytes {
  private buf = new Uint8Array(1 << 16);
  length = 0;
  private ensure(extra: number): void {
    if (this.length + extra <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + extra));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
  byte(...bs: number[]): this {
    this.ensure(bs.length);
    for (const b of bs) this.buf[this.length++] = b;
    return this;
  }
  /** Unsigned LEB128. */
  u32(v: number): this {
    do {
      let b = v & 0x7f;
      v >>>= 7;
      if (v !== 0) b |= 0x80;
      this.byte(b);
    } while (v !== 0);
    return this;
  }
  /** Signed LEB128 (i32.const). */
  i32(v: number): this {
    for (;;) {
      const b = v & 0x7f;
      v >>= 7;
      if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) return this.byte(b);
      this.byte(b | 0x80);
    }
  }
  f32(v: number): this {
    const f = new Float32Array([v]);
    return this.byte(...new Uint8Array(f.buffer));
  }
  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
    return this;
  }
  /** A length-prefixed vector/section body. */
  sized(b: Bytes): this {
    return this.u32(b.length).bytes(b.view());
  }
  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

// Locals of a group function: params n (0), out (1) byte address; then i (2), o (3), s (4, f32), x (5, f32).
const L = { n: 0, out: 1, i: 2, o: 3, s: 4, x: 5 } as const;

function emitTree(code: Bytes, e: TreeEnsemble, root: number): void {
  const stack: number[] = [root]; // ≥ 0: a node to emit; -1: `else`; -2: `end`
  while (stack.length > 0) {
    const k = stack.pop()!;
    if (k === -1) {
      code.byte(OP.else);
      continue;
    }
    if (k === -2) {
      code.byte(OP.end);
      continue;
    }
    if (e.mode[k] === NodeMode.LEAF) {
      code.byte(OP.f32Const).f32(e.value[k]!);
      continue;
    }
    const cmp = COMPARISON[e.mode[k]!];
    if (cmp === undefined) throw new Error(`node ${k}: unknown mode ${e.mode[k]}`);
    const offset = e.feature[k]! * 4;
    code.byte(OP.localGet, L.o, OP.f32Load, 2).u32(offset);
    if (e.missingTracksTrue[k] === 1) code.byte(OP.localTee, L.x);
    code.byte(OP.f32Const).f32(e.threshold[k]!).byte(cmp);
    if (e.missingTracksTrue[k] === 1) code.byte(OP.localGet, L.x, OP.localGet, L.x, OP.f32Ne, OP.i32Or);
    code.byte(OP.if, F32);
    stack.push(-2, e.falseChild[k]!, -1, e.trueChild[k]!);
  }
}

function nodesOf(e: TreeEnsemble, root: number): number {
  let n = 0;
  const stack = [root];
  while (stack.length > 0) {
    const k = stack.pop()!;
    n++;
    if (e.mode[k] !== NodeMode.LEAF) stack.push(e.trueChild[k]!, e.falseChild[k]!);
  }
  return n;
}

function groupFunction(e: TreeEnsemble, trees: readonly number[], width: number): Bytes {
  const code = new Bytes();
  // locals: 2 × i32 (i, o), 2 × f32 (s, x)
  code.u32(2).u32(2).byte(I32).u32(2).byte(F32);
  code.byte(OP.block, VOID, OP.localGet, L.n, OP.i32Eqz, OP.brIf, 0);
  code.byte(OP.loop, VOID);
  // s = out[i]
  code.byte(OP.localGet, L.out, OP.localGet, L.i, OP.i32Const, 2, OP.i32Shl, OP.i32Add, OP.f32Load, 2, 0, OP.localSet, L.s);
  for (const t of trees) {
    emitTree(code, e, e.roots[t]!);
    code.byte(OP.localGet, L.s, OP.f32Add, OP.localSet, L.s); // s = leaf + s: float32 addition commutes exactly
  }
  code.byte(OP.localGet, L.out, OP.localGet, L.i, OP.i32Const, 2, OP.i32Shl, OP.i32Add, OP.localGet, L.s, OP.f32Store, 2, 0);
  code.byte(OP.localGet, L.o, OP.i32Const).i32(width * 4).byte(OP.i32Add, OP.localSet, L.o);
  code.byte(OP.localGet, L.i, OP.i32Const, 1, OP.i32Add, OP.localTee, L.i, OP.localGet, L.n, OP.i32LtU, OP.brIf, 0);
  code.byte(OP.end, OP.end, OP.end);
  return code;
}

/** The module's bytes: functions 0..g-1 add their trees' leaves; function g calls them in order. */
export function marginModuleBytes(e: TreeEnsemble, width: number): Uint8Array {
  const groups: number[][] = [];
  let current: number[] = [];
  let nodes = 0;
  for (let t = 0; t < e.nTrees; t++) {
    const size = nodesOf(e, e.roots[t]!);
    if (current.length > 0 && nodes + size > NODES_PER_FUNCTION) {
      groups.push(current);
      current = [];
      nodes = 0;
    }
    current.push(t);
    nodes += size;
  }
  if (current.length > 0) groups.push(current);

  const m = new Bytes().byte(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00);
  const section = (id: number, body: Bytes): void => {
    m.byte(id).sized(body);
  };
  section(1, new Bytes().u32(1).byte(0x60).u32(2).byte(I32, I32).u32(0)); // type 0: (i32 n, i32 out) → ()
  const funcs = new Bytes().u32(groups.length + 1);
  for (let g = 0; g <= groups.length; g++) funcs.u32(0);
  section(3, funcs);
  section(5, new Bytes().u32(1).byte(0x00).u32(1)); // memory 0: 1 page to start, grown from JavaScript
  const enc = new TextEncoder();
  const exp = new Bytes().u32(2);
  exp.u32(6).bytes(enc.encode('margin')).byte(0x00).u32(groups.length);
  exp.u32(6).bytes(enc.encode('memory')).byte(0x02).u32(0);
  section(7, exp);
  const codeSec = new Bytes().u32(groups.length + 1);
  for (const g of groups) codeSec.sized(groupFunction(e, g, width));
  const run = new Bytes().u32(0);
  for (let g = 0; g < groups.length; g++) run.byte(OP.localGet, L.n, OP.localGet, L.out, OP.call).u32(g);
  run.byte(OP.end);
  codeSec.sized(run);
  section(10, codeSec);
  return m.view().slice();
}

/** The compiled margin of one ensemble, over rows written into the module's own memory. */
export interface MarginKernel {
  readonly width: number;
  /**
   * The compiled module (a WebAssembly.Module): a worker thread instantiates the same margin from it
   * (margin-worker.ts). Sent as the module, not its bytes, so the worker shares its compiled code
   * instead of compiling and tiering it up again.
   */
  readonly module: object;
  /** The input area for n rows (n × width float32, row-major), valid until the next call. */
  input(n: number): Float32Array;
  /** The float32 margins of the n rows written into input(n), valid until the next call. */
  margins(n: number): Float32Array;
}

/**
 * Compiles the ensemble's margin (without base value or post-transform) for rows of `width` columns.
 * Synchronous compilation: the module is built from the model's numbers only, once per load.
 */
export function compileMarginKernel(e: TreeEnsemble, width: number): MarginKernel {
  return marginKernelOf(new (wasmApi().Module)(marginModuleBytes(e, width)), width);
}

/** The kernel of a module marginModuleBytes made (here, or in a worker thread from the module it was sent). */
export function marginKernelOf(module: object, width: number): MarginKernel {
  const api = wasmApi();
  const instance = new api.Instance(module, {});
  const margin = instance.exports['margin'] as (n: number, out: number) => void;
  const memory = instance.exports['memory'] as WasmMemory;
  let heap = new Float32Array(memory.buffer);
  const ensure = (n: number): void => {
    const need = (n * width + n) * 4; // the rows, then the margins
    if (memory.buffer.byteLength < need) memory.grow(Math.ceil((need - memory.buffer.byteLength) / PAGE));
    if (heap.buffer !== memory.buffer) heap = new Float32Array(memory.buffer); // grow detaches the old view
  };
  return {
    width,
    module,
    input(n) {
      ensure(n);
      return heap.subarray(0, n * width);
    },
    margins(n) {
      ensure(n);
      const out = heap.subarray(n * width, n * width + n);
      out.fill(0); // onnxruntime's sums start at 0
      margin(n, n * width * 4);
      return out;
    },
  };
}
