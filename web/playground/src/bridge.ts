// How the page reaches the core compiled to WebAssembly (wasm/bridge.go). The core runs in a
// Web Worker, so no call, however big, ever blocks the page; the page talks to it with
// messages. Where there is no Worker (Node, in tests), the same interface calls the core
// in the same thread. This module is small and has no dependencies: the worker bundles it.

/** The error of a call: etcd's gRPC code and text. */
export interface CallError {
  code: number;
  message: string;
}

/**
 * What wasm/bridge.go defines as globalThis.metastore. user makes a call a client's, checked
 * as a server checks a request from that user ("" for a client without credentials); without
 * it, a call is the page's own, which auth does not restrict.
 */
export interface GoBridge {
  call(method: string, json: string, user?: string): Promise<string>;
  callSync(method: string, json: string, user?: string): [string | null, CallError | null];
  putMany(records: Uint8Array, scratch: boolean): [string | null, CallError | null];
}

/** The core as the page sees it: every call answers later; failures reject with a CallError. */
export interface Bridge {
  /** A call in etcd's JSON gateway shapes (see wasm/bridge.go for the methods), by user if given (see GoBridge). */
  call(method: string, json: string, user?: string): Promise<string>;
  /** The bulk path: puts as records (see encodeRecords); the revision after the last. */
  putMany(records: Uint8Array, scratch: boolean): Promise<string>;
}

/** Calls that wait on the store (a watch's next event) or run long (bench) go through Go's Promise; the rest are synchronous, which is cheaper. */
const waits = new Set(["watch.next", "bench"]);

/** directBridge calls the core in this thread. */
export function directBridge(g: GoBridge): Bridge {
  const settle = ([out, err]: [string | null, CallError | null]) => (err ? Promise.reject(err) : Promise.resolve(out!));
  return {
    call: (method, json, user) => (waits.has(method) ? g.call(method, json, user) : settle(g.callSync(method, json, user))),
    putMany: (records, scratch) => settle(g.putMany(records, scratch)),
  };
}

/** A request to the worker, and its answer (ok or err). */
export type Request = { id: number; method: string; json: string; user?: string } | { id: number; records: Uint8Array; scratch: boolean };
export type Answer = { id: number; ok: string } | { id: number; err: CallError };

/** workerBridge talks to a worker running worker.ts. */
export function workerBridge(w: Worker): Bridge {
  let next = 0;
  const pending = new Map<number, { resolve(s: string): void; reject(e: CallError): void }>();
  w.onmessage = (e: MessageEvent<Answer>) => {
    const p = pending.get(e.data.id);
    if (!p) return;
    pending.delete(e.data.id);
    if ("err" in e.data) p.reject(e.data.err);
    else p.resolve(e.data.ok);
  };
  w.onerror = (e) => {
    // The worker died (the core ran out of memory, say): every call still waiting fails.
    for (const p of pending.values()) p.reject({ code: 14, message: `the core stopped: ${e.message}` });
    pending.clear();
  };
  const send = (req: Omit<Request, "id">, transfer: Transferable[] = []) =>
    new Promise<string>((resolve, reject) => {
      const id = ++next;
      pending.set(id, { resolve, reject });
      w.postMessage({ ...req, id }, transfer);
    });
  return {
    call: (method, json, user) => send(user === undefined ? { method, json } : { method, json, user }),
    // The records' buffer moves to the worker rather than being copied.
    putMany: (records, scratch) => send({ records, scratch }, [records.buffer]),
  };
}

/** encodeRecords lays key/value pairs out as putMany takes them: uvarint length, bytes, twice a pair. */
export function encodeRecords(kvs: [Uint8Array, Uint8Array][]): Uint8Array {
  let size = 0;
  for (const [k, v] of kvs) size += k.length + v.length + 20;
  const out = new Uint8Array(size);
  let p = 0;
  const put = (b: Uint8Array) => {
    let n = b.length;
    while (n >= 0x80) {
      out[p++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 128);
    }
    out[p++] = n;
    out.set(b, p);
    p += b.length;
  };
  for (const [k, v] of kvs) {
    put(k);
    put(v);
  }
  return out.subarray(0, p);
}
