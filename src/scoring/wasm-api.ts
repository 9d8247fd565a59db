// The part of the WebAssembly JS API the two generated/compiled kernels use (TreeSHAP in explain/,
// the tree walk in trees/). The project's lib settings carry no DOM types and @types/node 20 none, so
// they are declared here once.

export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

export interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { readonly exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number }) => WasmMemory;
}

/** The runtime's WebAssembly object; throws when the runtime has none. */
export function wasmApi(): WasmApi {
  const api = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
  if (api === undefined) throw new Error('this runtime has no WebAssembly');
  return api;
}
