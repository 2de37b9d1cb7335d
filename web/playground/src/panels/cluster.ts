// The cluster panel (issue #14): a Raft cluster inside the tab. "Start" runs the in-tab
// cluster's module in a worker of its own (cluster-worker.ts, metastore-cluster.wasm: the
// server's member code, 3 or 5 members over a simulated network) and shows each member's
// role, term, commit and applied index and the messages on each link, live. The buttons are
// the faults (stop and restart a member, its log kept as on a disk; cut one off; split 2|1;
// slow a link or a disk; heal), membership (add a learner, promote, remove), the clock
// (pause, step a heartbeat, 1×, 5×, 10×: every member's ticks, elections and leases run on
// it) and the linearizability check of what was read and written here. A run is its seed
// and the requests made at each tick: Share puts both in a link, with the tick it was made
// at; opened, the link replays the same run up to that tick and pauses there.
import { ClusterClient, decodeRun, encodeRun } from "../cluster/client.js";
import type { CallError, LinkState, MemberState, Run } from "../cluster/engine.js";
import { h } from "../dom.js";

const b64 = (s: string) => btoa(String.fromCharCode(...new TextEncoder().encode(s)));
const unb64 = (s: string) => new TextDecoder().decode(Uint8Array.from(atob(s), (c) => c.charCodeAt(0)));
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
/** The virtual time one tick of the cluster's clock stands for (wasm/cluster/tab). */
const TICK_MS = 10;
/**
 * The clock's reading once a run has made ticks ticks: a step reports the state the tick
 * before it left, so the page shows the time as of the last tick but one.
 */
const shownAfter = (ticks: number) => secs(Math.max(0, ticks - 1) * TICK_MS);
/** How long each write of a slowed disk takes ("Slow m1's disk"). */
const SLOW_DISK_MS = 200;
const slowDisk = (m: MemberState) => (m.disk_delay_ms ?? 0) > 0;
const setText = (e: Element, text: string) => {
  if (e.textContent !== text) e.textContent = text;
};
const setAttr = (e: Element, name: string, value: string) => {
  if (e.getAttribute(name) !== value) e.setAttribute(name, value);
};

/** A member's row in the table, and the member as it was last rendered. */
interface Row {
  m: MemberState;
  tr: HTMLTableRowElement;
  role: HTMLElement;
  term: HTMLElement;
  leader: HTMLElement;
  commit: HTMLElement;
  applied: HTMLElement;
  power: HTMLButtonElement;
  cut: HTMLButtonElement;
  disk: HTMLButtonElement;
  promote: HTMLButtonElement;
  remove: HTMLButtonElement;
}

/**
 * The cluster panel in root; base is the folder of cluster-worker.js. onStart is told of each
 * run started (the page offers its members to the console and the other panels).
 */
export function clusterPanel(root: HTMLElement, base = ".", onStart: (c: ClusterClient) => void = () => {}): void {
  let cl: ClusterClient | undefined;
  let members: MemberState[] = [];
  let shown = 0;
  /** Each member's row, kept from one render to the next: a focused button stays focused. */
  const rowOf = new Map<string, Row>();
  /** How many times "A cut-off minority" ran: each writes a value of its own. */
  let minorityRuns = 0;

  const state = h("p", { class: "hint", role: "status" }, "No cluster yet: start one. It runs in this tab, in a worker; nothing leaves your browser.");
  const seedField = h("input", { "aria-label": "seed", size: 8, inputmode: "numeric", placeholder: "random" });
  const start3 = h("button", { type: "button", "data-start": 3, onclick: () => void start({ members: 3, seed: seedOf(), script: [] }) }, "Start 3 members");
  const start5 = h("button", { type: "button", "data-start": 5, onclick: () => void start({ members: 5, seed: seedOf(), script: [] }) }, "Start 5 members");
  const needs: HTMLButtonElement[] = [];
  const btn = (label: string, onclick: () => void, attrs: Record<string, string | number> = {}) => {
    const b = h("button", { type: "button", disabled: true, onclick, ...attrs }, label);
    needs.push(b);
    return b;
  };
  const heal = btn("Heal the network", () => void act("cluster.heal"));
  const split = btn("Split 2 | 1", () => void splitCluster()); // relabelled to the sides' sizes as members come and go
  const learner = btn("Add a learner", () => void addLearner());
  const check = btn("Check linearizability", () => void checkHistory());
  const share = btn("Share this run", () => void shareRun());
  const speeds = [
    ["Pause", 0],
    ["1×", 1],
    ["5×", 5],
    ["10×", 10],
  ] as const;
  const clock = h("span", { class: "clock", role: "group", "aria-label": "cluster clock" }, "Clock: ");
  for (const [label, speed] of speeds) clock.append(btn(label, () => setSpeed(speed), { "aria-pressed": speed === 1 ? "true" : "false", "data-speed": speed }));
  clock.append(btn("Step 100 ms", () => cl?.advance(10), { "data-step": 1 }));
  const now = h("span", { class: "now", "aria-label": "cluster time" });
  /** Marks the speed button of speed pressed (the worker may change it too: a replay pauses where its link was made). */
  const showSpeed = (speed: number) => {
    for (const b of clock.querySelectorAll<HTMLButtonElement>("button[data-speed]")) setAttr(b, "aria-pressed", String(b.dataset.speed === String(speed)));
  };
  clock.append(" ", now);

  const rows = h("tbody");
  const table = h(
    "table",
    { class: "members", "aria-label": "members" },
    h("thead", {}, h("tr", {}, ...["member", "role", "term", "leader", "commit", "applied", ""].map((c) => h("th", { scope: "col" }, c)))),
    rows,
  );
  const net = h("div", { class: "net", role: "img", "aria-label": "links" });
  const linkA = h("select", { "aria-label": "link from" });
  const linkB = h("select", { "aria-label": "link to" });
  const drop = h("input", { "aria-label": "loss percent", type: "number", min: 0, max: 100, value: 0, size: 4 });
  const delay = h("input", { "aria-label": "delay ms", type: "number", min: 0, value: 200, size: 5 });
  const linkForm = h("form", { class: "cluster-kv", onsubmit: (e: Event) => (e.preventDefault(), void setLink()) },
    h("label", {}, "Link ", linkA), h("label", {}, " – ", linkB),
    h("label", {}, " loss % ", drop), h("label", {}, " delay ms ", delay), btn("Set link", () => void setLink()));
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
  const guideButtons = [
    btn("A leader dies mid-write", () => void guide(leaderDies)),
    btn("A cut-off minority", () => void guide(minority)),
    btn("A learner catches up by snapshot", () => void guide(learnerSnapshot)),
  ];
  const guides = h("div", { class: "row guides", role: "group", "aria-label": "guided examples" }, "Try: ", ...guideButtons);
  const timeline = h("ol", { class: "timeline", "aria-label": "leader and membership changes" });
  const body = h("div", { hidden: true },
    h("div", { class: "row" }, heal, split, learner, check, share),
    h("div", { class: "members-wrap" }, table), net, linkForm, kv, result, guides,
    h("h3", {}, "Leader and membership changes"), timeline);
  root.append(
    h("p", {}, "The same Raft member code the metastore server runs, several members in this tab over a simulated network. Stop the leader, cut a member off, slow a link, and watch the others elect one; a cut-off member refuses linearizable reads. A run is its seed and what you did at each tick: Share gives a link that replays it exactly."),
    h("div", { class: "row" }, start3, start5, h("label", {}, " seed ", seedField)),
    h("div", { class: "row" }, clock),
    state,
    body,
  );

  const seedOf = () => (/^\d+$/.test(seedField.value.trim()) ? seedField.value.trim() : String(Math.floor(Math.random() * 1e9)));

  const say = (text: string, err = false) => {
    result.textContent = text;
    result.className = err ? "result err" : "result";
  };
  const fail = (e: unknown) => {
    const { code, message } = e as CallError;
    say(`Error: ${message ?? String(e)}${code !== undefined ? ` (code ${code})` : ""}`, true);
  };

  async function start(run: Run, speed = 1): Promise<void> {
    start3.disabled = start5.disabled = true;
    state.textContent = run.script.length || run.until !== undefined ? `Replaying a run of ${run.members} members (seed ${run.seed})…` : `Starting ${run.members} members…`;
    cl?.close();
    cl = undefined;
    rowOf.clear();
    rows.replaceChildren();
    try {
      const c = await ClusterClient.start(base, run, speed);
      cl = c;
      seedField.value = run.seed;
      shown = 0;
      timeline.replaceChildren();
      say("");
      for (const b of needs) b.disabled = false;
      showSpeed(speed);
      body.hidden = false;
      c.onChange(render);
      render();
      onStart(c);
    } catch (e) {
      state.textContent = `The cluster did not start: ${(e as Error).message ?? String(e)}`;
    } finally {
      start3.disabled = start5.disabled = false;
    }
  }

  function setSpeed(speed: number): void {
    cl?.speed(speed);
    showSpeed(speed);
  }

  async function act(method: string, req: object = {}): Promise<unknown> {
    try {
      return await cl!.call(method, req);
    } catch (e) {
      fail(e);
      return undefined;
    }
  }

  const leader = () => members.find((m) => m.role === "leader" && m.running)?.name ?? "";
  const live = () => members.filter((m) => !m.removed);

  /**
   * The two sides of a split, the larger first: the leader and one other member against the
   * rest (with 3 members the leader keeps a majority; with 5 it is in the minority, and the
   * other side elects one).
   */
  function sides(): [string[], string[]] {
    const names = live().map((m) => m.name);
    const lead = leader() || names[0];
    const pair = names.length > 1 ? [lead, names.find((n) => n !== lead)!] : names;
    const rest = names.filter((n) => !pair.includes(n));
    return rest.length > pair.length ? [rest, pair] : [pair, rest];
  }

  async function splitCluster(): Promise<void> {
    const [big, small] = sides();
    // A split replaces any cut before it: the sides it names are then the whole story.
    if ((await act("cluster.heal")) === undefined) return;
    if ((await act("cluster.split", { groups: [big, small] })) !== undefined) say(`Split: ${big.join(", ")} | ${small.join(", ")}`);
  }

  async function setLink(): Promise<void> {
    if (linkA.value === linkB.value) return say("A link joins two different members: pick another.", true);
    const r = await act("cluster.link", { a: linkA.value, b: linkB.value, drop: Number(drop.value) / 100, delay_ms: Number(delay.value) });
    if (r !== undefined) say(`Link ${linkA.value} – ${linkB.value}: ${drop.value}% lost, ${delay.value} ms each way`);
  }

  /** Adds and starts a learner; its name once the cluster took it, undefined if it did not. */
  async function addLearner(): Promise<string | undefined> {
    const taken = new Set(members.map((m) => m.name));
    let i = 1;
    while (taken.has(`m${i}`)) i++;
    const name = `m${i}`;
    const via = leader() || live()[0].name;
    say(`$ etcdctl --endpoints=http://${via}:2379 member add ${name} --peer-urls=http://${name}:2380 --learner`);
    const r = (await act("member.add", { member: via, peerURLs: [`http://${name}:2380`], isLearner: true })) as { member: { ID: string } } | undefined;
    if (!r) return undefined;
    say(`Member ${BigInt(r.member.ID).toString(16)} added as a learner, and started: ${name} (it catches up, then Promote makes it vote)`);
    // The answer comes before the next state does: the page may not list the member yet.
    return name;
  }

  async function memberAct(m: MemberState, method: string, verb: string): Promise<void> {
    const via = leader() || live().find((x) => x.running)?.name || "";
    const r = await act(method, { member: via, ID: BigInt(`0x${m.id}`).toString() });
    if (r !== undefined) say(`${m.name} ${verb}`);
  }

  async function put(): Promise<void> {
    say("…");
    try {
      const r = await cl!.call("put", { member: through.value, key: b64(key.value), value: b64(value.value) });
      say(`OK: ${key.value} = ${value.value} at revision ${r.header.revision}, through ${through.value} (term ${r.header.raft_term})`);
    } catch (e) {
      fail(e);
    }
  }

  async function get(serializable: boolean): Promise<void> {
    say("…");
    try {
      const r = await cl!.call("range", { member: through.value, key: b64(key.value), serializable });
      const kv = r.kvs?.[0];
      const how = serializable ? "serializable: this member's own copy" : "linearizable: confirmed with the leader";
      say(kv
        ? `${key.value} = ${unb64(kv.value ?? "")} (mod revision ${kv.mod_revision}), from ${through.value}, ${how}`
        : `${key.value} is not set, as ${through.value} sees it (${how})`);
    } catch (e) {
      fail(e);
    }
  }

  async function checkHistory(): Promise<void> {
    const v = (await act("cluster.check")) as { result: string; operations: number; unknown: number; keys: number; why?: string } | undefined;
    if (!v) return;
    // operations counts those checked: a write of unknown outcome that no read saw is left
    // out (it may not have happened), so unknown counts the ones among them.
    if (v.result === "empty") say("Nothing to check yet: put and get (linearizable) through the members first.");
    else if (v.result === "ok") say(`Linearizable: ${v.operations} ${v.operations === 1 ? "read or write" : "reads and writes"} on ${v.keys} key(s) (${v.unknown} of them writes of unknown outcome) admit one order that agrees with real time.`);
    else say(`NOT linearizable: ${v.why}`, true);
  }

  async function shareRun(): Promise<void> {
    if (!cl) return;
    const run = await cl.run();
    const u = new URL(location.href);
    u.hash = `cluster=${encodeRun(run)}`;
    window.history.replaceState(window.history.state, "", u);
    try {
      await navigator.clipboard?.writeText(u.href);
    } catch {
      // no clipboard (an http page, a test): the address bar has the link
    }
    say(`This run's link (seed ${run.seed}, ${run.script.length} requests, up to t = ${shownAfter(run.until ?? 0)}) is in the address bar: opening it replays the same run to there, and pauses.`);
  }

  // ---- guided examples: each narrates what it does, through the same requests as the buttons ----

  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
  async function until(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
    for (const end = Date.now() + ms; !cond(); await wait(50)) if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
  }
  const narrate = (steps: string[]) => say(steps.join(" → "));
  /**
   * Runs a guided example, the others' buttons off meanwhile (two at once would mix their
   * steps); a request it did not expect to fail shows as an error.
   */
  async function guide(example: () => Promise<void>): Promise<void> {
    for (const b of guideButtons) b.disabled = true;
    try {
      await example();
    } catch (e) {
      fail(e);
    } finally {
      for (const b of guideButtons) b.disabled = false;
    }
  }

  async function leaderDies(): Promise<void> {
    await until("a leader", () => leader() !== "");
    const lead = leader();
    const follower = live().find((m) => m.name !== lead && m.running)!.name;
    const steps = [`put x=1 through ${follower}`, `stop ${lead} at the same tick`];
    narrate(steps);
    const write = cl!.call("put", { member: follower, key: b64("x"), value: b64("1") }).then(() => "acknowledged", (e: CallError) => `failed (${e.message}): its outcome is unknown`);
    await cl!.call("cluster.stop", { member: lead });
    steps.push(`the write ${await write}`);
    await until("a new leader", () => leader() !== "" && leader() !== lead);
    steps.push(`${leader()} leads`);
    const r = await cl!.call("range", { member: follower, key: b64("x") });
    steps.push(`a linearizable get of x through ${follower}: ${r.kvs?.length ? unb64(r.kvs[0].value) : "not set"}`);
    await cl!.call("cluster.restart", { member: lead });
    steps.push(`${lead} restarted`);
    narrate(steps);
    await checkHistory();
    result.textContent = `${steps.join(" → ")}. ${result.textContent}`;
  }

  async function minority(): Promise<void> {
    await until("a leader", () => leader() !== "");
    const lead = leader();
    const cut = live().find((m) => m.name !== lead && m.running)!.name;
    const fresh = ++minorityRuns === 1 ? "new" : `new${minorityRuns}`;
    const steps = [`cut ${cut} off`];
    narrate(steps);
    await cl!.call("cluster.isolate", { member: cut });
    await cl!.call("put", { member: lead, key: b64("y"), value: b64(fresh) });
    steps.push(`put y=${fresh} through ${lead}`);
    narrate(steps);
    const w = await cl!.call("put", { member: cut, key: b64("y"), value: b64("lost") }).then(() => "taken (!)", (e: CallError) => `refused (${e.message})`);
    steps.push(`a put through ${cut}: ${w}`);
    narrate(steps);
    const s = await cl!.call("range", { member: cut, key: b64("y"), serializable: true });
    const seen = s.kvs?.length ? unb64(s.kvs[0].value) : "not set";
    steps.push(`a serializable get through ${cut}: ${seen} (${seen === fresh ? "current" : `stale: the majority has ${fresh}`})`);
    narrate(steps);
    const l = await cl!.call("range", { member: cut, key: b64("y") }).then(() => "answered (!)", (e: CallError) => `refused (${e.message})`);
    steps.push(`a linearizable get through ${cut}: ${l}`);
    await cl!.call("cluster.heal");
    steps.push("healed");
    narrate(steps);
  }

  async function learnerSnapshot(): Promise<void> {
    await until("a leader", () => leader() !== "");
    const lead = leader();
    const steps = [`150 puts through ${lead} (members snapshot every 100 entries, and drop the log behind)`];
    narrate(steps);
    await Promise.all(Array.from({ length: 150 }, (_, i) => cl!.call("put", { member: lead, key: b64(`k${i % 10}`), value: b64(String(i)) })));
    const name = await addLearner();
    if (!name) return; // the error is shown
    steps.push(`${name} added as a learner`);
    narrate(steps);
    await until(`${name} to catch up`, () => {
      const m = members.find((x) => x.name === name);
      const l = members.find((x) => x.name === leader());
      return !!m && !!l && m.running && m.applied >= l.commit;
    });
    steps.push(`${name} caught up from a snapshot (applied ${members.find((x) => x.name === name)!.applied})`);
    const id = members.find((x) => x.name === name)!.id;
    await cl!.call("member.promote", { member: leader(), ID: BigInt(`0x${id}`).toString() });
    steps.push(`${name} promoted: it votes now`);
    narrate(steps);
  }

  // ---- the view ----

  function options(sel: HTMLSelectElement, names: string[]): void {
    if ([...sel.options].map((o) => o.value).join() === names.join()) return;
    const was = sel.value;
    sel.replaceChildren(...names.map((n) => h("option", { value: n }, n)));
    if (names.includes(was)) sel.value = was;
  }

  function render(): void {
    const st = cl?.state;
    if (!st) return;
    members = st.out.members;
    const names = live().map((m) => m.name);
    options(through, names);
    options(linkA, names);
    options(linkB, names);
    if (linkB.value === linkA.value && names.length > 1) linkB.value = names.find((n) => n !== linkA.value)!;
    now.textContent = `t = ${secs(st.out.now_ms)}${st.speed === 0 ? " (paused)" : ""}`;
    showSpeed(st.speed);
    for (const e of cl!.events.slice(shown)) timeline.prepend(h("li", {}, `${secs(e.now_ms)}: ${e.text}`));
    shown = cl!.events.length;
    const [big, small] = sides();
    setText(split, `Split ${big.length} | ${small.length}`);
    const lead = leader();
    const replaying = st.replaying > 0 || (st.until !== undefined && st.tick < st.until);
    const where = lead ? `${lead} leads.` : "No leader: the members are electing one.";
    state.textContent = replaying
      ? `Replaying the link's run${st.until !== undefined ? ` up to t = ${shownAfter(st.until)}` : ""}: ${st.replaying} requests to go…`
      : st.until !== undefined && st.speed === 0 && st.tick === st.until
        ? `${where} This is the link's run, replayed up to where it was shared (t = ${secs(st.out.now_ms)}) and paused: 1× goes on.`
        : where;
    members.forEach((m, i) => {
      const r = rowFor(m);
      if (rows.children[i] !== r.tr) rows.insertBefore(r.tr, rows.children[i] ?? null);
      fillRow(r, m, st.out.links);
    });
    drawNet(st.out.members.filter((m) => !m.removed), st.out.links);
  }

  /** Member m's row, made on its first render; its buttons act on the member as last rendered. */
  function rowFor(m: MemberState): Row {
    const known = rowOf.get(m.name);
    if (known) return known;
    const button = (label: string, onclick: () => void) => h("button", { type: "button", onclick }, label);
    const field = (f: string) => h("td", { "data-field": f });
    const r: Row = {
      m,
      tr: h("tr", { "data-member": m.name }),
      role: field("role"),
      term: field("term"),
      leader: field("leader"),
      commit: field("commit"),
      applied: field("applied"),
      power: button(`Stop ${m.name}`, () => void act(r.m.running ? "cluster.stop" : "cluster.restart", { member: r.m.name })),
      cut: button(`Cut ${m.name} off`, () => void act("cluster.isolate", { member: r.m.name })),
      disk: button(`Slow ${m.name}'s disk`, () => void act("cluster.disk", { member: r.m.name, delay_ms: slowDisk(r.m) ? 0 : SLOW_DISK_MS })),
      promote: button(`Promote ${m.name}`, () => void memberAct(r.m, "member.promote", "promoted")),
      remove: button(`Remove ${m.name}`, () => void memberAct(r.m, "member.remove", "removed")),
    };
    r.tr.append(h("th", { scope: "row" }, `${m.name} `, h("small", {}, m.id)), r.role, r.term, r.leader, r.commit, r.applied,
      h("td", { class: "actions" }, r.power, r.cut, r.disk, r.promote, r.remove));
    rowOf.set(m.name, r);
    return r;
  }

  /** Updates a row to m's state, touching only what changed (so focus and selection stay). */
  function fillRow(r: Row, m: MemberState, links: LinkState[]): void {
    r.m = m;
    // Cut off: no link out works; cut from some: a split (or another's isolation) runs between them.
    const others = live().filter((o) => o.name !== m.name).map((o) => o.name);
    const cutFrom = others.filter((o) => links.some((l) => l.from === m.name && l.to === o && l.cut));
    const net = cutFrom.length === 0 ? "" : cutFrom.length === others.length ? " (cut off)" : ` (cut from ${cutFrom.join(", ")})`;
    setText(r.role, m.removed ? "removed" : m.running ? m.role + net + (slowDisk(m) ? " (slow disk)" : "") : "stopped");
    setText(r.term, m.running ? String(m.term) : "");
    setText(r.leader, m.leader);
    setText(r.commit, m.running ? String(m.commit) : "");
    setText(r.applied, m.running ? String(m.applied) : "");
    setAttr(r.tr, "class", m.removed ? "removed" : m.running ? m.role : "stopped");
    setText(r.power, `${m.running ? "Stop" : "Restart"} ${m.name}`);
    setAttr(r.disk, "aria-pressed", String(slowDisk(m)));
    for (const b of [r.power, r.cut, r.disk, r.remove]) b.hidden = !!m.removed;
    r.promote.hidden = !!m.removed || m.role !== "learner";
  }

  /** The members on a circle, a line per link: dashed when cut, its label the messages in flight each way. */
  function drawNet(ms: MemberState[], links: LinkState[]): void {
    const W = 320, H = 200, R = 75;
    const pos = new Map(ms.map((m, i) => [m.name, { x: W / 2 + R * Math.sin((2 * Math.PI * i) / ms.length), y: H / 2 - R * Math.cos((2 * Math.PI * i) / ms.length) }]));
    const ns = "http://www.w3.org/2000/svg";
    const el = (tag: string, attrs: Record<string, string | number>, text?: string) => {
      const e = document.createElementNS(ns, tag);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
      if (text !== undefined) e.textContent = text;
      return e;
    };
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", height: H, "aria-hidden": "true" });
    const summary: string[] = [];
    for (let i = 0; i < ms.length; i++) {
      for (let j = i + 1; j < ms.length; j++) {
        const a = ms[i].name, b = ms[j].name;
        const ab = links.find((l) => l.from === a && l.to === b);
        const ba = links.find((l) => l.from === b && l.to === a);
        const p = pos.get(a)!, q = pos.get(b)!;
        const cut = !!(ab?.cut || ba?.cut);
        const slow = (ab?.delay_ms ?? 0) > 0 || (ab?.drop ?? 0) > 0;
        svg.append(el("line", { x1: p.x, y1: p.y, x2: q.x, y2: q.y, class: cut ? "cut" : slow ? "slow" : "ok" }));
        const flying = `${ab?.in_flight ?? 0}→ ←${ba?.in_flight ?? 0}`;
        svg.append(el("text", { x: (p.x + q.x) / 2, y: (p.y + q.y) / 2 - 3, class: "flight" }, flying));
        const lost = (ab?.lost ?? 0) + (ba?.lost ?? 0);
        summary.push(`${a}–${b}: ${cut ? "cut" : `${ab?.in_flight ?? 0} and ${ba?.in_flight ?? 0} in flight`}` +
          `${slow ? `, ${ab!.delay_ms} ms, ${Math.round(ab!.drop * 100)}% loss (${lost} lost so far)` : ""}`);
      }
    }
    for (const m of ms) {
      const p = pos.get(m.name)!;
      svg.append(el("circle", { cx: p.x, cy: p.y, r: 18, class: m.running ? m.role : "stopped" }));
      svg.append(el("text", { x: p.x, y: p.y + 4, class: "name" }, m.name));
    }
    net.replaceChildren(svg);
    net.setAttribute("aria-label", `links: ${summary.join("; ")}`);
  }

  // A link with a run (#cluster=...) opens this panel and replays it.
  const m = /[#&]cluster=([A-Za-z0-9_-]+)/.exec(location.hash);
  if (m) {
    try {
      const run = decodeRun(m[1]);
      // The page wires its tabs (and selects the first) after making the panels: show this
      // one once it has, or the run would replay out of sight.
      setTimeout(() => document.getElementById("tab-cluster")?.click());
      void start(run);
    } catch (e) {
      state.textContent = `The link's run could not be read: ${(e as Error).message}`;
    }
  }
}
