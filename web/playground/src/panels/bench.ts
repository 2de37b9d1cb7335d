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

/** How a run reports its progress: the step (1 to STEPS) and what it does, and how far into it it is. */
export type Progress = (step: number, what: string, done: number, of: number) => void;

export const STEPS = 4;

/**
 * runBench measures the core in this tab, n operations per figure, on scratch stores: the
 * page's store is left alone. signal stops it between two calls (the core's own loops, one
 * call, finish first); progress hears of every step.
 */
export async function runBench(app: App, n: number, signal?: AbortSignal, progress: Progress = () => {}): Promise<BenchResult> {
  const tab = app.api.tab;
  if (!tab) throw new Error("the benchmark measures the store in this tab: switch back to it first");
  if (!Number.isInteger(n) || n < 1000 || n > 1_000_000) throw new Error("the count is 1000 to 1000000 (every put is kept as history, in memory)");
  progress(1, "the core's own loops (puts, then ranges)", 0, 1);
  const core = await tab.bench(n);
  signal?.throwIfAborted();
  const s = tab.scratch();
  try {
    return { corePutsPerSec: core.puts_per_sec, coreRangesPerSec: core.ranges_per_sec, ...await viaBridge(s, n, signal, progress) };
  } finally {
    await tab.dropScratch();
  }
}

async function viaBridge(s: Api, n: number, signal: AbortSignal | undefined, progress: Progress): Promise<{ callPutsPerSec: number; batchPutsPerSec: number; bulkPutsPerSec: number }> {
  const value = bytes("x".repeat(256));
  const key = (i: number) => bytes(`/bench/${String(i % 10000).padStart(5, "0")}`);
  const calls = Math.min(n, 20000);
  let t = performance.now();
  for (let i = 0; i < calls; i++) {
    if (i % 500 === 0) {
      signal?.throwIfAborted();
      progress(2, "puts, one call each", i, calls);
    }
    await s.put({ key: key(i), value });
  }
  const callPutsPerSec = calls / ((performance.now() - t) / 1000);
  const per = 1000;
  t = performance.now();
  for (let done = 0; done < n; done += per) {
    signal?.throwIfAborted();
    progress(3, "puts, batches of 1000 (JSON)", done, n);
    await s.tab!.batch(Array.from({ length: Math.min(per, n - done) }, (_, j) => ({ request: { case: "requestPut" as const, value: { key: key(done + j), value } } })));
  }
  const batchPutsPerSec = n / ((performance.now() - t) / 1000);
  t = performance.now();
  for (let done = 0; done < n; done += per) {
    signal?.throwIfAborted();
    progress(4, "puts, bulk path", done, n);
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
  const cancel = h("button", { type: "button", hidden: true }, "Cancel");
  // The progress is not a live region: a screen reader would read out every step of it.
  const bar = h("progress", { "aria-label": "benchmark progress", max: STEPS, value: 0, hidden: true }) as HTMLProgressElement;
  const step = h("p", { class: "muted bench-step" });
  const fmt = (x: number) => `${Math.round(x).toLocaleString("en")} /s`;
  let running: AbortController | undefined;

  /** Run is there only for the store in this tab (a server's speed is not what it measures), and not twice at once. */
  const idle = () => (start.disabled = running !== undefined || !app.api.tab);

  const progress: Progress = (i, what, done, of) => {
    bar.value = i - 1 + done / of;
    step.textContent = `step ${i} of ${STEPS}: ${what}${of > 1 ? `, ${done.toLocaleString("en")} of ${of.toLocaleString("en")}` : ""}`;
  };

  async function run(e: Event): Promise<void> {
    e.preventDefault();
    const ctl = (running = new AbortController());
    idle();
    cancel.hidden = bar.hidden = false;
    state.textContent = "running…";
    try {
      const r = await runBench(app, Number(n.value), ctl.signal, progress);
      out.replaceChildren(
        h("tr", {}, h("td", {}, "puts, core (no bridge)"), h("td", { "data-metric": "core-puts" }, fmt(r.corePutsPerSec))),
        h("tr", {}, h("td", {}, "ranges, core (no bridge)"), h("td", { "data-metric": "core-ranges" }, fmt(r.coreRangesPerSec))),
        h("tr", {}, h("td", {}, "puts, one call each from JS"), h("td", { "data-metric": "call-puts" }, fmt(r.callPutsPerSec))),
        h("tr", {}, h("td", {}, "puts, batches of 1000 from JS (JSON)"), h("td", { "data-metric": "batch-puts" }, fmt(r.batchPutsPerSec))),
        h("tr", {}, h("td", {}, "puts, bulk path, 1000 per call from JS"), h("td", { "data-metric": "bulk-puts" }, fmt(r.bulkPutsPerSec))));
      state.textContent = `done: ${n.value} operations each (core figures on a scratch store, 256-byte values)`;
    } catch (x) {
      state.textContent = ctl.signal.aborted
        ? `cancelled at ${step.textContent} (the scratch store is dropped; the page's store was not touched)`
        : `Error: ${(x as Error).message}`;
    } finally {
      running = undefined;
      cancel.hidden = bar.hidden = true;
      step.textContent = "";
      idle();
    }
  }
  cancel.addEventListener("click", () => running?.abort());

  root.append(
    h("p", {}, "How fast is etcd in a tab? The core runs as WebAssembly in a Web Worker, off the page's thread: ",
      "the page stays responsive while it works, and every call from the page is a message to the worker and back."),
    h("p", { class: "muted server-only" }, "The benchmark measures the store in this tab, not a server: use this tab to run it."),
    h("form", { class: "row", onsubmit: run }, n, start, cancel),
    bar, step, state, h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "what"), h("th", {}, "rate"))), out));
  idle();
  return {
    async refresh() {
      idle();
    },
    reset: idle,
  };
}
