// The in-tab cluster (metastore-cluster.wasm, wasm/cluster/tab) in a Web Worker of its own,
// loaded only when the page starts a cluster: its members (Raft, the apply path, timers) run
// here, so the page stays responsive. It answers the page's requests as worker.ts does
// (bridge.ts's protocol; no bulk path).
import { bootGo } from "./boot.js";
import type { Answer, Request } from "./bridge.js";

interface ClusterBridge {
  call(method: string, json: string): Promise<string>;
}

const ready = bootGo<ClusterBridge>("metastore-cluster.wasm", "metastoreCluster");

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
