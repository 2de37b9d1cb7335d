// The in-tab cluster (metastore-cluster.wasm, wasm/cluster/tab) in a Web Worker of its own,
// loaded only when the page starts a cluster: its members (Raft, the apply path, timers) run
// here, so the page stays responsive. One worker is one run: the page starts a new worker
// for each (the module's random source is seeded before it starts, which only a fresh one
// allows). The worker drives the clock (cluster/engine.ts) at the speed the page asks,
// passes requests in and answers out, and reports the members' state and the leader changes.
import { bootGo } from "./boot.js";
import { Engine, seedRandom, type ClusterModule, type Output, type Scripted } from "./cluster/engine.js";
import type { ToWorker, FromWorker } from "./cluster/client.js";

const post = (m: FromWorker) => (globalThis as unknown as { postMessage(m: FromWorker): void }).postMessage(m);

/** Real milliseconds between the driver's turns; each turn runs `speed` ticks of 10 ms. */
const TURN_MS = 10;

let engine: Engine | undefined;
let speed = 1;
let lastLeader: string | undefined;
let lastPost = 0;
let timer: ReturnType<typeof setTimeout> | undefined;

function note(o: Output): void {
  const lead = o.members.find((m) => m.role === "leader" && m.running);
  const name = lead?.name ?? "";
  if (name !== lastLeader && !(lastLeader === undefined && name === "")) {
    post({ type: "event", tick: o.tick, now_ms: o.now_ms, text: name ? `${name} leads (term ${lead!.term})` : "no leader" });
  }
  lastLeader = name;
}

function report(force = false): void {
  const now = Date.now();
  if (!engine || (!force && now - lastPost < 100)) return;
  lastPost = now;
  post({ type: "state", out: engine.last, tick: engine.tick, speed, replaying: engine.replaying, script: engine.script.length });
}

function steps(n: number): void {
  for (let i = 0; i < n && engine; i++) note(engine.step());
}

function drive(): void {
  clearTimeout(timer);
  timer = setTimeout(() => {
    if (engine) {
      // A replay runs its script as fast as it can, then at the chosen speed.
      if (engine.replaying > 0) steps(50);
      else if (speed > 0) steps(speed);
      report();
    }
    drive();
  }, TURN_MS);
}

globalThis.addEventListener("message", async (e: Event) => {
  const m = (e as MessageEvent<ToWorker>).data;
  switch (m.type) {
    case "start": {
      try {
        seedRandom(m.seed);
        const mod = await bootGo<ClusterModule>("metastore-cluster.wasm", "metastoreCluster");
        engine = new Engine(mod, { seed: m.seed, members: m.members }, (stream, result) => post({ type: "watch", stream, result }));
        speed = m.speed ?? 1;
        if (m.script?.length) engine.replay(m.script);
        note(engine.last);
        report(true);
        post({ type: "started" });
        drive();
      } catch (err) {
        post({ type: "failed", message: (err as { message?: string }).message ?? String(err) });
      }
      return;
    }
    case "call":
      if (!engine) {
        post({ type: "done", id: m.id, error: { code: 9, message: "the cluster is not started" } });
        return;
      }
      engine.call(m.method, m.body).then(
        (result) => post({ type: "done", id: m.id, result }),
        (error) => post({ type: "done", id: m.id, error }),
      );
      return;
    case "speed":
      speed = m.speed;
      report(true);
      return;
    case "advance":
      steps(m.ticks);
      report(true);
      return;
    case "run":
      post({ type: "run", id: m.id, run: { seed: engine?.run.seed ?? "0", members: engine?.run.members ?? 0, script: engine?.script ?? ([] as Scripted[]) } });
      return;
  }
});
