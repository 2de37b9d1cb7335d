// Starting a Go WebAssembly module inside a worker (the single store's and the in-tab
// cluster's): Go's wasm_exec.js comes from the worker's own folder, and the module is ready
// once it has set its global.
declare function importScripts(...urls: string[]): void;
declare const Go: new () => { importObject: WebAssembly.Imports; run(i: WebAssembly.Instance): Promise<void> };

/** Loads and runs the module at wasm; resolves to the global it defines under name. */
export async function bootGo<T>(wasm: string, name: string): Promise<T> {
  importScripts("wasm_exec.js");
  const go = new Go();
  const { instance } = await WebAssembly.instantiateStreaming(fetch(wasm), go.importObject);
  void go.run(instance);
  const g = globalThis as unknown as Record<string, T | undefined>;
  for (let i = 0; !g[name]; i++) {
    if (i > 1000) throw new Error(`${wasm} did not start`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return g[name]!;
}
