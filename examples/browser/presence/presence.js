// A live presence board on MetaStore: each tab puts presence/<id> under a 5-second lease and
// keeps it alive; every tab lists presence/ and then watches it from the next revision, so
// tabs appear and disappear (when closed, their lease expires) everywhere in real time. A
// shared message under board/message shows a plain watched key.
import { MetaStore, text } from "/client/metastore.js";

const ms = new MetaStore(location.origin);
const id = Math.random().toString(36).slice(2, 8);
const tabs = new Map();
const $ = (sel) => document.querySelector(sel);

function render() {
  const ul = $("#tabs");
  ul.replaceChildren(...[...tabs.entries()].sort().map(([k, v]) => {
    const li = document.createElement("li");
    li.textContent = `${v.name} (since ${new Date(v.since).toLocaleTimeString()})`;
    li.dataset.id = k;
    if (k === id) li.className = "me";
    return li;
  }));
  $("#status").textContent = `${tabs.size} tab(s) here; this one is ${id}`;
}

async function main() {
  const lease = await ms.lease.grant(5);
  await ms.put(`presence/${id}`, JSON.stringify({ name: `tab ${id}`, since: Date.now() }), { lease: lease.ID });
  ms.lease.keepAlive(lease.ID, () => ($("#status").textContent = "lease lost: reload to rejoin"));

  const now = await ms.get("presence/", { prefix: true });
  for (const kv of now.kvs) tabs.set(text(kv.key).slice("presence/".length), JSON.parse(text(kv.value)));
  render();
  const board = await ms.get("board/message");
  $("#board").textContent = board.kvs.length ? text(board.kvs[0].value) : "";

  $("#message").addEventListener("keydown", (e) => {
    if (e.key === "Enter") ms.put("board/message", e.target.value);
  });
  (async () => {
    for await (const batch of ms.watch("board/message", { startRevision: board.header.revision + 1n }))
      for (const e of batch.events) $("#board").textContent = e.type === 1 ? "" : text(e.kv.value);
  })();
  for await (const batch of ms.watch("presence/", { prefix: true, startRevision: now.header.revision + 1n })) {
    for (const e of batch.events) {
      const k = text(e.kv.key).slice("presence/".length);
      if (e.type === 1) tabs.delete(k);
      else tabs.set(k, JSON.parse(text(e.kv.value)));
    }
    render();
  }
}

main().catch((e) => ($("#status").textContent = `error: ${e.message}`));
