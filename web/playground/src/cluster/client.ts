// The page's side of the in-tab cluster: one worker per run (cluster-worker.ts). Requests
// go to the worker, which makes them at its next tick; answers, watch responses, the
// members' state and the leader changes come back as messages.
import type { CallError, Output, Run, Scripted } from "./engine.js";

export type ToWorker =
  | { type: "start"; members: number; seed: string; script?: Scripted[]; until?: number; speed?: number }
  | { type: "call"; id: number; method: string; body: object }
  | { type: "speed"; speed: number }
  | { type: "advance"; ticks: number }
  | { type: "run"; id: number };

export type FromWorker =
  | { type: "started" }
  | { type: "failed"; message: string }
  | { type: "state"; out: Output; tick: number; speed: number; replaying: number; until?: number; script: number }
  | { type: "event"; tick: number; now_ms: number; text: string }
  | { type: "done"; id: number; result?: unknown; error?: CallError }
  | { type: "watch"; stream: string; result: unknown }
  | { type: "run"; id: number; run: Run };

export interface ClusterState {
  out: Output;
  tick: number;
  speed: number;
  /** Scripted requests still to replay. */
  replaying: number;
  /** The tick a replay runs to, then pauses (Run.until); none when it goes on. */
  until?: number;
  /** Requests made so far (the run's script). */
  script: number;
}

export interface ClusterEvent {
  tick: number;
  now_ms: number;
  text: string;
}

export class ClusterClient {
  state?: ClusterState;
  readonly events: ClusterEvent[] = [];
  private readonly waiting = new Map<number, (m: FromWorker) => void>();
  private readonly watchers = new Map<string, (result: unknown) => void>();
  /**
   * Responses of a stream nobody follows yet: the worker posts a watch's first responses
   * (the created one) in the same tick as the answer naming its stream, and before it.
   */
  private readonly early = new Map<string, unknown[]>();
  private readonly listeners = new Set<() => void>();
  private nextID = 1;

  private constructor(private readonly worker: Worker) {}

  /**
   * Starts a run in a new worker (base: the folder holding cluster-worker.js): members,
   * seeded by seed; with script, its requests are replayed at their ticks (and with until,
   * the replay pauses at that tick).
   */
  static async start(base: string, run: Run, speed = 1): Promise<ClusterClient> {
    const c = new ClusterClient(new Worker(`${base}/cluster-worker.js`));
    await new Promise<void>((resolve, reject) => {
      c.worker.onmessage = (e: MessageEvent<FromWorker>) => {
        const m = e.data;
        if (m.type === "started") resolve();
        else if (m.type === "failed") reject(new Error(m.message));
        else c.receive(m);
      };
      c.post({ type: "start", members: run.members, seed: run.seed, script: run.script, until: run.until, speed });
    });
    c.worker.onmessage = (e: MessageEvent<FromWorker>) => c.receive(e.data);
    return c;
  }

  private post(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  private receive(m: FromWorker): void {
    switch (m.type) {
      case "state":
        this.state = { out: m.out, tick: m.tick, speed: m.speed, replaying: m.replaying, until: m.until, script: m.script };
        break;
      case "event":
        this.events.push(m);
        break;
      case "done":
      case "run":
        this.waiting.get(m.id)?.(m);
        this.waiting.delete(m.id);
        return;
      case "watch": {
        const f = this.watchers.get(m.stream);
        if (f) f(m.result);
        else if (this.early.has(m.stream)) this.early.get(m.stream)!.push(m.result);
        else this.early.set(m.stream, [m.result]);
        return;
      }
    }
    for (const f of this.listeners) f();
  }

  /** Calls f whenever the state or the events change; returns a function that stops it. */
  onChange(f: () => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  /** A request (wasm/cluster/tab's methods), made at the worker's next tick. Rejects with {code, message}. */
  call<T = any>(method: string, body: object = {}): Promise<T> {
    const id = this.nextID++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, (m) => {
        if (m.type !== "done") return;
        if (m.error) reject(m.error);
        else resolve(m.result as T);
      });
      this.post({ type: "call", id, method, body });
    });
  }

  /** Routes a watch stream's responses to f (until unwatch). */
  watch(stream: string, f: (result: unknown) => void): void {
    this.watchers.set(stream, f);
    const early = this.early.get(stream) ?? [];
    this.early.delete(stream);
    for (const r of early) f(r);
  }

  unwatch(stream: string): void {
    this.watchers.delete(stream);
    this.early.delete(stream);
  }

  /** Ticks per 10 ms of the page's time: 0 pauses, 1 is real time. */
  speed(speed: number): void {
    this.post({ type: "speed", speed });
  }

  /** Runs ticks now (one heartbeat is 10 ticks of 10 ms). */
  advance(ticks: number): void {
    this.post({ type: "advance", ticks });
  }

  /** The run so far: its seed, size and script. */
  run(): Promise<Run> {
    const id = this.nextID++;
    return new Promise((resolve) => {
      this.waiting.set(id, (m) => m.type === "run" && resolve(m.run));
      this.post({ type: "run", id });
    });
  }

  /** Ends the run: its worker stops, and requests still waiting fail. */
  close(): void {
    this.worker.terminate();
    this.listeners.clear();
    for (const w of this.waiting.values()) w({ type: "done", id: 0, error: { code: 14, message: "the in-tab cluster was stopped (a new run replaced it)" } });
    this.waiting.clear();
  }
}

/** A run in a link's fragment (#cluster=...): base64url of its JSON. */
export function encodeRun(run: Run): string {
  const bytes = new TextEncoder().encode(JSON.stringify(run));
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function decodeRun(s: string): Run {
  const b = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  const run = JSON.parse(new TextDecoder().decode(Uint8Array.from(b, (c) => c.charCodeAt(0)))) as Run;
  if (typeof run.seed !== "string" || !/^\d+$/.test(run.seed) || !(run.members >= 1 && run.members <= 7) || !Array.isArray(run.script) ||
    (run.until !== undefined && !(Number.isSafeInteger(run.until) && run.until >= 0))) {
    throw new Error("not a cluster run");
  }
  return run;
}
