// The cluster panel (issue #14): a Raft cluster inside the tab. "Start" loads the in-tab
// cluster's module in a worker of its own (cluster-worker.ts, metastore-cluster.wasm: the
// server's member code, 3 or 5 members over a simulated network) and shows each member's
// role, term, commit and applied index, live; the buttons are the faults (stop and restart a
// member, its log kept as on a disk; cut one off; heal) and the clock (pause, 1×, 5×: every
// member's ticks, elections and leases run on it). A small form writes and reads through
// the member chosen, linearizably or not, so a newcomer sees a cut-off member refuse a
// linearizable read and a stopped leader replaced. The timeline lists the leader changes.
import type { Bridge, CallError } from "../bridge.js";
import { h } from "../dom.js";

/** A member as cluster.status reports it (wasm/cluster.Status). */
export interface Member {
  name: string;
  id: string;
  running: boolean;
  role: string;
  term: number;
  leader: string;
  commit: number;
  applied: number;
}

/** How often the members are asked while a cluster runs and the page is shown. */
const EVERY_MS = 200;

const b64 = (s: string) => btoa(String.fromCharCode(...new TextEncoder().encode(s)));
const unb64 = (s: string) => new TextDecoder().decode(Uint8Array.from(atob(s), (c) => c.charCodeAt(0)));

/** The cluster panel in root; load starts the cluster's worker (once, on the first Start). */
export function clusterPanel(root: HTMLElement, load: () => Bridge): void {
  let bridge: Bridge | undefined;
  let members: Member[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let started = 0;
  let lastLeader = "";
  /** Members marked cut off here (the network does not say). */
  const cut = new Set<string>();

  const call = async (method: string, req: object = {}): Promise<any> => JSON.parse(await bridge!.call(method, JSON.stringify(req)));

  const state = h("p", { class: "hint", role: "status" }, "No cluster yet: start one. It runs in this tab, in a worker; nothing leaves your browser.");
  const start3 = h("button", { type: "button", "data-start": 3, onclick: () => void start(3) }, "Start 3 members");
  const start5 = h("button", { type: "button", "data-start": 5, onclick: () => void start(5) }, "Start 5 members");
  const heal = h("button", { type: "button", disabled: true, onclick: () => void act("cluster.heal", {}, () => cut.clear()) }, "Heal the network");
  const speeds = [
    ["Pause", 0],
    ["1×", 1],
    ["5×", 5],
  ] as const;
  const clock = h("span", { class: "clock", role: "group", "aria-label": "cluster clock" }, "Clock: ");
  for (const [label, speed] of speeds) {
    clock.append(h("button", { type: "button", "aria-pressed": speed === 1 ? "true" : "false", "data-speed": speed, disabled: true, onclick: () => void setSpeed(speed) }, label));
  }
  const rows = h("tbody");
  const table = h(
    "table",
    { class: "members", "aria-label": "members" },
    h("thead", {}, h("tr", {}, ...["member", "role", "term", "leader", "commit", "applied", ""].map((c) => h("th", { scope: "col" }, c)))),
    rows,
  );
  const through = h("select", { "aria-label": "through member" });
  const key = h("input", { "aria-label": "key", value: "greeting", size: 10 });
  const value = h("input", { "aria-label": "value", value: "hello", size: 10 });
  const result = h("output", { class: "result", "aria-live": "polite" });
  const kv = h(
    "form",
    { class: "cluster-kv", onsubmit: (e: Event) => e.preventDefault() },
    h("label", {}, "Through ", through),
    key,
    value,
    h("button", { type: "button", onclick: () => void put() }, "Put"),
    h("button", { type: "button", onclick: () => void get(false) }, "Get"),
    h("button", { type: "button", onclick: () => void get(true) }, "Get (serializable)"),
  );
  const timeline = h("ol", { class: "timeline", "aria-label": "leader changes" });
  const body = h("div", { hidden: true }, h("div", { class: "members-wrap" }, table), kv, result, h("h3", {}, "Leader changes"), timeline);
  root.append(
    h("p", {}, "The same Raft member code the metastore server runs, several members in this tab over a simulated network. Stop the leader, cut a member off, and watch the others elect one; a cut-off member refuses linearizable reads."),
    h("div", { class: "row" }, start3, start5, heal, clock),
    state,
    body,
  );

  const fail = (e: unknown) => {
    const { code, message } = e as CallError;
    result.textContent = `Error: ${message ?? String(e)}${code !== undefined ? ` (code ${code})` : ""}`;
    result.className = "result err";
  };

  async function start(n: number): Promise<void> {
    bridge ??= load();
    start3.disabled = start5.disabled = true;
    state.textContent = `Starting ${n} members…`;
    try {
      members = (await call("cluster.start", { members: n, seed: String(Date.now()) })).members;
      started = Date.now();
      lastLeader = "";
      cut.clear();
      timeline.replaceChildren();
      result.textContent = "";
      heal.disabled = false;
      for (const b of clock.querySelectorAll("button")) {
        b.disabled = false;
        b.setAttribute("aria-pressed", b.dataset.speed === "1" ? "true" : "false");
      }
      through.replaceChildren(...members.map((m) => h("option", { value: m.name }, m.name)));
      body.hidden = false;
      state.textContent = `${n} members running. Electing a leader…`;
      render();
      poll();
    } catch (e) {
      state.textContent = `The cluster did not start: ${(e as CallError).message ?? String(e)}`;
    } finally {
      start3.disabled = start5.disabled = false;
    }
  }

  function poll(): void {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      if (!document.hidden) {
        try {
          members = (await call("cluster.status")).members;
          render();
        } catch {
          // the worker is busy starting a new cluster: the next turn asks again
        }
      }
      poll();
    }, EVERY_MS);
  }

  async function act(method: string, req: object, then?: () => void): Promise<void> {
    try {
      await call(method, req);
      then?.();
      members = (await call("cluster.status")).members;
      render();
    } catch (e) {
      fail(e);
    }
  }

  async function setSpeed(speed: number): Promise<void> {
    await act("cluster.clock", { speed });
    for (const b of clock.querySelectorAll("button")) b.setAttribute("aria-pressed", b.dataset.speed === String(speed) ? "true" : "false");
  }

  async function put(): Promise<void> {
    result.className = "result";
    result.textContent = "…";
    try {
      const r = await call("put", { member: through.value, key: b64(key.value), value: b64(value.value) });
      result.textContent = `OK: ${key.value} = ${value.value} at revision ${r.header.revision}, through ${through.value} (term ${r.header.raft_term})`;
    } catch (e) {
      fail(e);
    }
  }

  async function get(serializable: boolean): Promise<void> {
    result.className = "result";
    result.textContent = "…";
    try {
      const r = await call("range", { member: through.value, key: b64(key.value), serializable });
      const kv = r.kvs?.[0];
      const how = serializable ? "serializable: this member's own copy" : "linearizable: confirmed with the leader";
      result.textContent = kv
        ? `${key.value} = ${unb64(kv.value ?? "")} (mod revision ${kv.mod_revision}), from ${through.value}, ${how}`
        : `${key.value} is not set, as ${through.value} sees it (${how})`;
    } catch (e) {
      fail(e);
    }
  }

  function render(): void {
    const leader = members.find((m) => m.role === "leader" && m.running)?.name ?? "";
    if (leader !== lastLeader) {
      const t = ((Date.now() - started) / 1000).toFixed(1);
      const term = members.find((m) => m.name === leader)?.term;
      timeline.prepend(h("li", {}, leader ? `${t} s: ${leader} leads (term ${term})` : `${t} s: no leader`));
      lastLeader = leader;
    }
    state.textContent = leader ? `${leader} leads.` : "No leader: the members are electing one.";
    rows.replaceChildren(
      ...members.map((m) => {
        const toggle = m.running
          ? h("button", { type: "button", onclick: () => void act("cluster.stop", { member: m.name }) }, `Stop ${m.name}`)
          : h("button", { type: "button", onclick: () => void act("cluster.restart", { member: m.name }) }, `Restart ${m.name}`);
        const isolate = h(
          "button",
          { type: "button", disabled: cut.has(m.name), onclick: () => void act("cluster.isolate", { member: m.name }, () => cut.add(m.name)) },
          `Cut ${m.name} off`,
        );
        const role = m.running ? m.role + (cut.has(m.name) ? " (cut off)" : "") : "stopped";
        return h(
          "tr",
          { "data-member": m.name, class: m.running ? m.role : "stopped" },
          h("th", { scope: "row" }, `${m.name} `, h("small", {}, m.id)),
          h("td", { "data-field": "role" }, role),
          h("td", { "data-field": "term" }, m.running ? String(m.term) : ""),
          h("td", { "data-field": "leader" }, m.leader),
          h("td", { "data-field": "commit" }, m.running ? String(m.commit) : ""),
          h("td", { "data-field": "applied" }, m.running ? String(m.applied) : ""),
          h("td", { class: "actions" }, toggle, isolate),
        );
      }),
    );
  }
}
