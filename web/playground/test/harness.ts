// Runs the core (web/dist/metastore.wasm) in Node, as the page does in a tab, and drives a
// Shell on it, recording what it prints. Needs only the wasm file and Go's wasm_exec.js
// (found with `go env GOROOT`). METASTORE_WASM overrides the wasm file's path.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { runInThisContext } from "node:vm";
import { TabApi, type Api } from "../src/api.js";
import { directBridge, type GoBridge } from "../src/bridge.js";

declare global {
  // Defined by Go's wasm_exec.js and by the core (wasm/bridge.go).
  // eslint-disable-next-line no-var
  var metastore: GoBridge | undefined;
  // eslint-disable-next-line no-var
  var Go: new () => { importObject: WebAssembly.Imports; run(i: WebAssembly.Instance): Promise<void> };
}
import { Shell } from "../src/shell/index.js";

function wasmExec(): string {
  const root = execFileSync("go", ["env", "GOROOT"], { encoding: "utf8" }).trim();
  for (const p of [join(root, "lib", "wasm", "wasm_exec.js"), join(root, "misc", "wasm", "wasm_exec.js")]) {
    if (existsSync(p)) return p;
  }
  throw new Error(`wasm_exec.js not found under ${root}`);
}

/**
 * Runs the Go WebAssembly module wasm in this process, as a tab's worker does, and resolves to
 * the global it defines under name (at once if it is already running).
 */
export async function startGo<T>(wasm: string, name: string): Promise<T> {
  const g = globalThis as unknown as Record<string, T | undefined>;
  if (!g[name]) {
    if (!globalThis.Go) runInThisContext(readFileSync(wasmExec(), "utf8"));
    const go = new Go() as InstanceType<typeof Go> & { _scheduledTimeouts?: Map<number, { unref?(): void }> };
    // The module's timers (lease expiry ticks, Raft ticks) must not keep Node alive once the
    // tests are done.
    const timers = go._scheduledTimeouts;
    if (timers) {
      const set = timers.set.bind(timers);
      timers.set = (k, v) => (v?.unref?.(), set(k, v));
    }
    const { instance } = await WebAssembly.instantiate(readFileSync(wasm), go.importObject);
    void go.run(instance);
    // Generous: a busy machine may take a while to compile and start megabytes of wasm.
    for (const end = Date.now() + 30_000; !g[name]; await new Promise((r) => setTimeout(r, 10))) {
      if (Date.now() > end) throw new Error(`${wasm} did not start in 30 s`);
    }
  }
  return g[name]!;
}

/** Starts the core once per process; returns the tab's Api. */
export async function startCore(wasm = process.env.METASTORE_WASM ?? resolve("dist/metastore.wasm")): Promise<Api> {
  return new TabApi(directBridge(await startGo<GoBridge>(wasm, "metastore")));
}

/** A Shell whose output is kept as text: stdout lines as printed, stderr lines prefixed "! ". */
export class Recorder {
  readonly lines: string[] = [];
  readonly shell: Shell;

  constructor(api: Api) {
    this.shell = new Shell(api, {
      print: (t) => this.lines.push(...t.split("\n")),
      error: (t) => this.lines.push(...t.split("\n").map((l) => "! " + l)),
    });
  }

  /** Takes what was printed so far. */
  take(): string {
    const s = this.lines.join("\n");
    this.lines.length = 0;
    return s;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
