// The core (metastore.wasm) in a Web Worker: it answers the page's requests (bridge.ts) so
// that no call blocks the page. Bundled on its own (dist/worker.js) as a classic worker, so
// Go's wasm_exec.js loads with importScripts, from the worker's own folder.
import { bootGo } from "./boot.js";
import { directBridge, type Answer, type GoBridge, type Request } from "./bridge.js";

const ready = bootGo<GoBridge>("metastore.wasm", "metastore").then(directBridge);

const post = (a: Answer) => (globalThis as unknown as { postMessage(a: Answer): void }).postMessage(a);

globalThis.addEventListener("message", async (e: Event) => {
  const req = (e as MessageEvent<Request>).data;
  try {
    const core = await ready;
    const ok = "records" in req ? await core.putMany(req.records, req.scratch) : await core.call(req.method, req.json, req.user);
    post({ id: req.id, ok });
  } catch (err) {
    const { code, message } = err as { code?: number; message?: string };
    post({ id: req.id, err: { code: code ?? 2, message: message ?? String(err) } });
  }
});
