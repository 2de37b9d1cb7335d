// The in-tab cluster's module (web/dist/metastore-cluster.wasm, wasm/cluster/tab) run in
// Node as a tab runs it: three members of the server's member code over a simulated network,
// driven through metastoreCluster.call. A write through a follower is read linearizably
// through another; the leader stopped, the others elect one; restarted, it catches up from
// its kept log; a member cut off refuses a linearizable read with etcd's error and catches up
// once healed.
//
// Run: cd web && npm run test:cluster   (needs web/dist/metastore-cluster.wasm: make web)
import assert from "node:assert/strict";
import { resolve } from "node:path";
import { after, before, test } from "node:test";
import type { Member as Status } from "../src/panels/cluster.js";
import { startGo } from "./harness.js";

interface ClusterBridge {
  call(method: string, request: string): Promise<string>;
}
declare global {
  // eslint-disable-next-line no-var
  var metastoreCluster: ClusterBridge | undefined;
}


const call = async (method: string, req: object = {}): Promise<any> => JSON.parse(await globalThis.metastoreCluster!.call(method, JSON.stringify(req)));
const b64 = (s: string) => Buffer.from(s).toString("base64");
const text = (b: string) => Buffer.from(b, "base64").toString();
const status = async (): Promise<Status[]> => (await call("cluster.status")).members;

/** Polls cond until it holds (members elect and catch up when they do: no fixed sleep). */
async function eventually(what: string, cond: () => Promise<boolean>): Promise<void> {
  for (const end = Date.now() + 60_000; !(await cond().catch(() => false)); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}: ${JSON.stringify(await status())}`);
  }
}

/** Waits for a leader other than not that every running member other than not follows. */
async function leader(not = ""): Promise<string> {
  let lead = "";
  await eventually("a leader", async () => {
    const ms = await status();
    lead = ms.find((m) => m.role === "leader" && m.name !== not)?.name ?? "";
    return lead !== "" && ms.every((m) => !m.running || m.name === not || m.leader === lead);
  });
  return lead;
}

async function get(member: string, key: string, serializable = false): Promise<string | undefined> {
  const r = await call("range", { member, key: b64(key), serializable });
  return r.kvs.length ? text(r.kvs[0].value) : undefined;
}

let alive: ReturnType<typeof setInterval>;

before(async () => {
  // startGo lets the members' timers not keep Node alive; until the test is done `alive`
  // does (a call waits on those timers, which Node would otherwise not count as pending).
  alive = setInterval(() => {}, 1000);
  await startGo<ClusterBridge>(process.env.METASTORE_CLUSTER_WASM ?? resolve("dist/metastore-cluster.wasm"), "metastoreCluster");
});

after(() => clearInterval(alive));

test("three members: a write through a follower, a leader stopped and restarted, a member cut off", async () => {
  await assert.rejects(call("cluster.status"), (e: any) => e.code === 3 && /cluster.start/.test(e.message));
  const started = await call("cluster.start", { members: 3, seed: "1" });
  assert.deepEqual(started.members.map((m: Status) => m.name), ["m1", "m2", "m3"]);
  // Elections and timeouts run on the page's clock: 5× makes the timeouts below shorter.
  await call("cluster.clock", { speed: 5 });
  const lead = await leader();
  const [f1, f2] = (await status()).map((m) => m.name).filter((n) => n !== lead);

  const put = await call("put", { member: f1, key: b64("a"), value: b64("1") });
  const f1Status = (await status()).find((m) => m.name === f1)!;
  assert.equal(BigInt(put.header.member_id).toString(16), f1Status.id, "the header names the member asked");
  assert.ok(Number(put.header.raft_term) >= 1 && put.header.cluster_id !== "0", JSON.stringify(put.header));
  assert.equal(await get(f2, "a"), "1");

  await call("cluster.stop", { member: lead });
  await assert.rejects(call("put", { member: lead, key: b64("x"), value: b64("x") }), (e: any) => e.code === 14 && e.message === "etcdserver: server stopped");
  const next = await leader(lead);
  await call("put", { member: next, key: b64("b"), value: b64("2") });
  await call("cluster.restart", { member: lead });
  await eventually(`${lead} to catch up after its restart`, async () => (await get(lead, "b", true)) === "2");

  const cut = [f1, f2].find((n) => n !== next)!;
  await call("cluster.isolate", { member: cut });
  await assert.rejects(get(cut, "a"), (e: any) => e.code === 14 && /^etcdserver: /.test(e.message));
  await call("put", { member: await leader(cut), key: b64("c"), value: b64("3") });
  await call("cluster.heal");
  await eventually(`${cut} to catch up once healed`, async () => (await get(cut, "c")) === "3");
});
