// The in-tab cluster's module (web/dist/metastore-cluster.wasm, wasm/cluster/tab) run in
// Node as the tab's worker runs it: three members of the server's member code over a
// simulated network, driven tick by tick by cluster/engine.ts. A write through a follower is
// read linearizably through another; the leader stopped, the others elect one; restarted, it
// catches up from its kept log; a member cut off refuses a linearizable read with etcd's
// error and catches up once healed; a learner added after many writes catches up from a
// snapshot and is promoted; the history checks linearizable. And a run is deterministic:
// the same seed and script, replayed in two fresh processes, give the same trace, tick for
// tick (a different seed does not).
//
// Run: cd web && npm run test:cluster   (needs web/dist/metastore-cluster.wasm: make web)
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { resolve } from "node:path";
import { test } from "node:test";
import { Engine, seedRandom, type ClusterModule, type Scripted } from "../src/cluster/engine.js";
import { startGo } from "./harness.js";

const wasm = process.env.METASTORE_CLUSTER_WASM ?? resolve("dist/metastore-cluster.wasm");
const b64 = (s: string) => Buffer.from(s).toString("base64");
const text = (b: string) => Buffer.from(b, "base64").toString();

/** A fresh module can be seeded only once per process: this one's seed. */
const SEED = process.env.CLUSTER_SEED ?? "7";

async function engine(): Promise<Engine> {
  seedRandom(SEED);
  return new Engine(await startGo<ClusterModule>(wasm, "metastoreCluster"), { seed: SEED, members: 3 });
}

/** Steps the clock until cond holds (in ticks, not wall time: a busy machine changes nothing). */
async function until(e: Engine, what: string, cond: () => boolean, ticks = 3000): Promise<void> {
  for (let i = 0; !cond(); i++) {
    if (i > ticks) assert.fail(`no ${what} within ${ticks} ticks: ${JSON.stringify(e.last.members)}`);
    e.step();
    await Promise.resolve(); // let answers settle
  }
}

/** Steps until p settles and returns its outcome. */
async function settle<T>(e: Engine, p: Promise<T>): Promise<{ ok?: T; err?: { code: number; message: string } }> {
  let out: { ok?: T; err?: { code: number; message: string } } | undefined;
  p.then((ok) => (out = { ok }), (err) => (out = { err }));
  await until(e, "answer", () => out !== undefined);
  return out!;
}

const leaderOf = (e: Engine, not = "") => {
  const ms = e.last.members;
  const lead = ms.find((m) => m.role === "leader" && m.running && m.name !== not)?.name ?? "";
  return lead && ms.every((m) => !m.running || m.removed || m.name === not || m.leader === lead) ? lead : "";
};

/** The script the determinism check replays: writes, a stopped leader, a read, a restart. */
const SCRIPT: Scripted[] = [
  { tick: 150, method: "put", body: { member: "m1", key: b64("a"), value: b64("1") } },
  { tick: 300, method: "cluster.stop", body: { member: "m2" } },
  { tick: 420, method: "put", body: { member: "m3", key: b64("b"), value: b64("2") } },
  { tick: 420, method: "range", body: { member: "m1", key: b64("a") } },
  { tick: 500, method: "cluster.link", body: { a: "m1", b: "m3", drop: 0.3, delay_ms: 40 } },
  { tick: 520, method: "put", body: { member: "m1", key: b64("c"), value: b64("3") } },
  { tick: 600, method: "cluster.restart", body: { member: "m2" } },
  { tick: 800, method: "cluster.check", body: {} },
];

if (process.env.CLUSTER_REPLAY) {
  // A child of the determinism test: replay SCRIPT and print the trace's digest.
  test("replay", async () => {
    const e = await engine();
    e.replay(SCRIPT);
    for (let i = 0; i < 1000; i++) e.step();
    console.log(`TRACE ${createHash("sha256").update(e.trace.join("\n")).digest("hex")} ${e.trace.length}`);
  });
} else {
  test("three members: writes through followers, a leader stopped and restarted, a member cut off, a learner", async () => {
    const e = await engine();
    assert.deepEqual(e.last.members.map((m) => m.name), ["m1", "m2", "m3"]);
    await until(e, "leader", () => leaderOf(e) !== "");
    const lead = leaderOf(e);
    const [f1, f2] = e.last.members.map((m) => m.name).filter((n) => n !== lead);

    const put = (await settle(e, e.call("put", { member: f1, key: b64("a"), value: b64("1") }))).ok as any;
    const f1Status = e.last.members.find((m) => m.name === f1)!;
    assert.equal(BigInt(put.header.member_id).toString(16), f1Status.id, "the header names the member asked");
    assert.ok(Number(put.header.raft_term) >= 1 && put.header.cluster_id !== "0", JSON.stringify(put.header));
    const got = (await settle(e, e.call("range", { member: f2, key: b64("a") }))).ok as any;
    assert.equal(text(got.kvs[0].value), "1");

    await settle(e, e.call("cluster.stop", { member: lead }));
    const refused = await settle(e, e.call("put", { member: lead, key: b64("x"), value: b64("x") }));
    assert.deepEqual(refused.err, { code: 14, message: "etcdserver: server stopped" });
    await until(e, "new leader", () => leaderOf(e, lead) !== "");
    const next = leaderOf(e, lead);
    assert.ok((await settle(e, e.call("put", { member: next, key: b64("b"), value: b64("2") }))).ok);
    await settle(e, e.call("cluster.restart", { member: lead }));
    await until(e, `${lead} caught up`, () => {
      const m = e.last.members.find((x) => x.name === lead)!;
      return m.running && m.applied >= e.last.members.find((x) => x.name === next)!.commit;
    });

    const cut = [f1, f2].find((n) => n !== next)!;
    await settle(e, e.call("cluster.isolate", { member: cut }));
    const lin = await settle(e, e.call("range", { member: cut, key: b64("a") }));
    assert.ok(lin.err && lin.err.code === 14 && /^etcdserver: /.test(lin.err.message), JSON.stringify(lin));
    const ser = (await settle(e, e.call("range", { member: cut, key: b64("a"), serializable: true }))).ok as any;
    assert.equal(text(ser.kvs[0].value), "1", "a cut-off member serves its own (serializable) copy");
    await settle(e, e.call("put", { member: next, key: b64("c"), value: b64("3") }));
    await settle(e, e.call("cluster.heal"));
    await until(e, `${cut} caught up once healed`, () => e.last.members.find((x) => x.name === cut)!.applied >= e.last.members.find((x) => x.name === next)!.commit);

    // Enough writes that the members snapshot and drop the log behind (every 100 entries):
    // a learner added now catches up from a snapshot.
    const writes = Array.from({ length: 150 }, (_, i) => e.call("put", { member: next, key: b64(`k${i % 10}`), value: b64(String(i)) }));
    await settle(e, Promise.all(writes));
    const added = (await settle(e, e.call("member.add", { member: next, peerURLs: ["http://m4:2380"], isLearner: true }))).ok as any;
    assert.equal(added.member.isLearner, true);
    await until(e, "m4 caught up", () => {
      const m4 = e.last.members.find((x) => x.name === "m4");
      return !!m4 && m4.running && m4.role === "learner" && m4.applied >= e.last.members.find((x) => x.name === next)!.commit;
    });
    const promoted = await settle(e, e.call("member.promote", { member: next, ID: BigInt(added.member.ID).toString() }));
    assert.ok(promoted.ok, JSON.stringify(promoted));
    const list = (await settle(e, e.call("member.list", { member: "m4" }))).ok as any;
    assert.deepEqual(list.members.map((m: any) => [m.name, m.isLearner]).sort(), [["m1", false], ["m2", false], ["m3", false], ["m4", false]]);
    const status = (await settle(e, e.call("status", { member: "m4" }))).ok as any;
    assert.equal(BigInt(status.leader).toString(16), e.last.members.find((x) => x.name === next)!.id);
    // Every member hashes the same history to the same number (m4's store came from a
    // snapshot, the others' from their logs).
    const commit = e.last.members.find((x) => x.name === next)!.commit;
    await until(e, "every member applied the writes", () => e.last.members.every((x) => !x.running || x.applied >= commit));
    const rev = String(status.header.revision);
    const hashes: any[] = [];
    for (const m of ["m1", "m2", "m3", "m4"]) hashes.push((await settle(e, e.call("hashkv", { member: m, revision: rev }))).ok);
    assert.ok(hashes.every((h) => h && h.hash === hashes[0].hash && h.hash_revision === rev && h.hash !== 0), JSON.stringify(hashes));

    const verdict = (await settle(e, e.call("cluster.check"))).ok as any;
    assert.equal(verdict.result, "ok", JSON.stringify(verdict));
    assert.ok(verdict.operations >= 150, JSON.stringify(verdict));
  });

  test("a seeded run replays exactly", () => {
    const bundle = process.argv[1];
    const replay = (seed: string) => {
      const r = spawnSync(process.execPath, [bundle], { env: { ...process.env, CLUSTER_REPLAY: "1", CLUSTER_SEED: seed }, encoding: "utf8", timeout: 120_000 });
      const m = /TRACE ([0-9a-f]{64}) (\d+)/.exec(r.stdout);
      assert.ok(m, `the replay printed no trace: ${r.stdout}\n${r.stderr}`);
      assert.equal(m[2], "1000");
      return m[1];
    };
    const a = replay("11"), b = replay("11"), c = replay("12");
    assert.equal(a, b, "the same seed and script gave two different runs");
    assert.notEqual(a, c, "another seed gave the same run: the seed is not used");
  });
}
