// A benchmark in this tab: the core's own speed (Go loops inside the wasm, no bridge), and
// what a page gets through the bridge, one call at a time and in batches.
import type { Api } from "../api.js";
import type { App, Panel } from "../app.js";
import { bytes, h } from "../dom.js";

export interface BenchResult {
  corePutsPerSec: number;
  coreRangesPerSec: number;
  callPutsPerSec: number;
  batchPutsPerSec: number;
  bulkPutsPerSec: number;
}

/** runBench measures the core in this tab, n operations per figure, on scratch stores: the page's store is left alone. */
export async function runBench(app: App, n: number): Promise<BenchResult> {
  const tab = app.api.tab;
  if (!tab) throw new Error("the benchmark measures the store in this tab: switch back to it first");
  if (!Number.isInteger(n) || n < 1000 || n > 1_000_000) throw new Error("the count is 1000 to 1000000 (every put is kept as history, in memory)");
  const core = await tab.bench(n);
  const s = tab.scratch();
  try {
    return { corePutsPerSec: core.puts_per_sec, coreRangesPerSec: core.ranges_per_sec, ...await viaBridge(s, n) };
  } finally {
    await tab.dropScratch();
  }
}

async function viaBridge(s: Api, n: number): Promise<{ callPutsPerSec: number; batchPutsPerSec: number; bulkPutsPerSec: number }> {
  const value = bytes("x".repeat(256));
  const key = (i: number) => bytes(`/bench/${String(i % 10000).padStart(5, "0")}`);
  const calls = Math.min(n, 20000);
  let t = performance.now();
  for (let i = 0; i < calls; i++) await s.put({ key: key(i), value });
  const callPutsPerSec = calls / ((performance.now() - t) / 1000);
  const per = 1000;
  t = performance.now();
  for (let done = 0; done < n; done += per) {
    await s.tab!.batch(Array.from({ length: Math.min(per, n - done) }, (_, j) => ({ request: { case: "requestPut" as const, value: { key: key(done + j), value } } })));
  }
  const batchPutsPerSec = n / ((performance.now() - t) / 1000);
  t = performance.now();
  for (let done = 0; done < n; done += per) {
    await s.tab!.putMany(Array.from({ length: Math.min(per, n - done) }, (_, j): [Uint8Array, Uint8Array] => [key(done + j), value]));
  }
  const bulkPutsPerSec = n / ((performance.now() - t) / 1000);
  return { callPutsPerSec, batchPutsPerSec, bulkPutsPerSec };
}

export function benchPanel(app: App, root: HTMLElement): Panel {
  const n = h("input", { "aria-label": "operations", value: "200000", inputmode: "numeric", size: 8 });
  const out = h("tbody", { "aria-label": "benchmark results" });
  const state = h("p", { class: "muted", role: "status" });
  const start = h("button", { type: "submit" }, "Run");
  const fmt = (x: number) => `${Math.round(x).toLocaleString("en")} /s`;
  root.append(
    h("p", {}, "How fast is etcd in a tab? The core runs as WebAssembly on this page's thread."),
    h("form", {
      class: "row", onsubmit: async (e: Event) => {
        e.preventDefault();
        start.disabled = true;
        state.textContent = "running…";
        try {
          const r = await runBench(app, Number(n.value));
          out.replaceChildren(
            h("tr", {}, h("td", {}, "puts, core (no bridge)"), h("td", { "data-metric": "core-puts" }, fmt(r.corePutsPerSec))),
            h("tr", {}, h("td", {}, "ranges, core (no bridge)"), h("td", { "data-metric": "core-ranges" }, fmt(r.coreRangesPerSec))),
            h("tr", {}, h("td", {}, "puts, one call each from JS"), h("td", { "data-metric": "call-puts" }, fmt(r.callPutsPerSec))),
            h("tr", {}, h("td", {}, "puts, batches of 1000 from JS (JSON)"), h("td", { "data-metric": "batch-puts" }, fmt(r.batchPutsPerSec))),
            h("tr", {}, h("td", {}, "puts, bulk path, 1000 per call from JS"), h("td", { "data-metric": "bulk-puts" }, fmt(r.bulkPutsPerSec))));
          state.textContent = `done: ${n.value} operations each (core figures on a scratch store, 256-byte values)`;
        } catch (x) {
          state.textContent = `Error: ${(x as Error).message}`;
        } finally {
          start.disabled = false;
        }
      },
    }, n, start),
    state, h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "what"), h("th", {}, "rate"))), out));
  return { async refresh() {} };
}
