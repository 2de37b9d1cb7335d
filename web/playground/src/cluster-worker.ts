// The in-tab cluster (metastore-cluster.wasm, wasm/cluster/tab) in a Web Worker of its own,
// loaded only when the page starts a cluster: its members (Raft, the apply path, timers) run
// here, so the page stays responsive. It answers the page's requests as worker.ts does
// (bridge.ts's protocol; no bulk path).
import type { Answer, Request } from "./bridge.js";

declare function importScripts(...urls: string[]): void;
declare const Go: new () => { importObject: WebAssembly.Imports; run(i: WebAssembly.Instance): Promise<void> };

interface ClusterBridge {
  call(method: string, json: string): Promise<string>;
}

const ready: Promise<ClusterBridge> = (async () => {
  importScripts("wasm_exec.js");
  const go = new Go();
  const { instance } = await WebAssembly.instantiateStreaming(fetch("metastore-cluster.wasm"), go.importObject);
  void go.run(instance);
  const g = globalThis as unknown as { metastoreCluster?: ClusterBridge };
  for (let i = 0; !g.metastoreCluster; i++) {
    if (i > 1000) throw new Error("the cluster module did not start");
    await new Promise((r) => setTimeout(r, 5));
  }
  return g.metastoreCluster;
})();

const post = (a: Answer) => (globalThis as unknown as { postMessage(a: Answer): void }).postMessage(a);

globalThis.addEventListener("message", async (e: Event) => {
  const req = (e as MessageEvent<Request>).data;
  try {
    if (!("method" in req)) throw { code: 12, message: "the cluster has no bulk path" };
    const cluster = await ready;
    post({ id: req.id, ok: await cluster.call(req.method, req.json) });
  } catch (err) {
    const { code, message } = err as { code?: number; message?: string };
    post({ id: req.id, err: { code: code ?? 2, message: message ?? String(err) } });
  }
});
