// The in-tab cluster (metastore-cluster.wasm, wasm/cluster/tab) in a Web Worker of its own,
// loaded only when the page starts a cluster: its members (Raft, the apply path, timers) run
// here, so the page stays responsive. One worker is one run: the page starts a new worker
// for each (the module's random source is seeded before it starts, which only a fresh one
// allows). The worker drives the clock (cluster/engine.ts) at the speed the page asks,
// passes requests in and answers out, and reports the members' state and the leader and membership changes.
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

/** What the timeline has said of each member: "learner", "voter" or "removed". */
const standing = new Map<string, string>();

/** Posts the timeline's events a tick's output shows: leader and membership changes. */
function note(o: Output): void {
  const lead = o.members.find((m) => m.role === "leader" && m.running);
  const name = lead?.name ?? "";
  const at = (text: string) => post({ type: "event", tick: o.tick, now_ms: o.now_ms, text });
  if (name !== lastLeader && !(lastLeader === undefined && name === "")) at(name ? `${name} leads (term ${lead!.term})` : "no leader");
  lastLeader = name;
  for (const m of o.members) {
    // A member's role says learner only while it runs: a stopped learner keeps its standing.
    const now = m.removed ? "removed" : m.role === "learner" ? "learner" : m.running ? "voter" : standing.get(m.name) ?? "voter";
    const was = standing.get(m.name);
    standing.set(m.name, now);
    if (was === undefined) {
      if (o.tick > 0) at(`${m.name} added`);
    } else if (was !== now && now === "removed") {
      at(`${m.name} removed`);
    } else if (was === "learner" && now === "voter") {
      at(`${m.name} promoted`);
    }
    // (A member just added may report itself a voter until it applies its own addition.)
  }
}

function report(force = false): void {
  const now = Date.now();
  if (!engine || (!force && now - lastPost < 100)) return;
  lastPost = now;
  post({ type: "state", out: engine.last, tick: engine.tick, speed, replaying: engine.replaying, until: engine.until, script: engine.script.length });
}

function steps(n: number): void {
  for (let i = 0; i < n && engine; i++) note(engine.step());
}

function drive(): void {
  clearTimeout(timer);
  timer = setTimeout(() => {
    if (engine) {
      // A replay runs its script as fast as it can, then at the chosen speed; one with an
      // end (Run.until: the tick its link was made) stops there, paused, as the run was then.
      const left = engine.ticksToGo;
      if (left > 0) {
        steps(Math.min(50, left));
        if (engine.ticksToGo === 0) speed = 0;
        report(engine.ticksToGo === 0);
      } else {
        if (engine.replaying > 0) steps(50);
        else if (speed > 0) steps(speed);
        report();
      }
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
        if (m.script?.length || m.until !== undefined) engine.replay(m.script ?? [], m.until);
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
      // Not past the end of a replay that has one.
      steps(engine && engine.ticksToGo > 0 ? Math.min(m.ticks, engine.ticksToGo) : m.ticks);
      report(true);
      return;
    case "run":
      post({ type: "run", id: m.id, run: { seed: engine?.run.seed ?? "0", members: engine?.run.members ?? 0, script: engine?.script ?? ([] as Scripted[]), until: engine?.tick } });
      return;
  }
});
