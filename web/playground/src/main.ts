// The playground page: boots the core in this tab (restoring the state saved in IndexedDB),
// wires the console, the toolbar and the panels, and can switch all of them to a live server.
import { connectServer, isRefusal, serverUrl, startTab, type Api, type WatchHandle } from "./api.js";
import { App, readable, type KeyRange, type Session } from "./app.js";
import { ask } from "./ask.js";
import { $, ALL, debounce, h } from "./dom.js";
import * as persist from "./persist.js";
import { Shell } from "./shell/index.js";
import { keysPanel } from "./panels/keys.js";
import { watchPanel } from "./panels/watch.js";
import { leasesPanel } from "./panels/leases.js";
import { historyPanel } from "./panels/history.js";
import { examplesPanel } from "./panels/examples.js";
import { benchPanel } from "./panels/bench.js";
import { memberPanel } from "./panels/member.js";
import { linkedScript, scriptPanel } from "./panels/script.js";
import { clusterPanel } from "./panels/cluster.js";
import { ClusterApi } from "./cluster/api.js";
import type { ClusterClient } from "./cluster/client.js";
import { taskList } from "./tasks.js";

const output = $<HTMLDivElement>("#output");
const input = $<HTMLInputElement>("#command");
const promptLabel = $<HTMLLabelElement>("#prompt");
const statusLine = $("#status");
const savedState = $<HTMLOutputElement>("#saved");

// ---- the console ----

function line(text: string, kind: "in" | "out" | "err"): void {
  // A table (endpoint status -w table) scrolls sideways rather than wrap (style.css).
  const table = kind === "out" && text.startsWith("+-");
  output.append(h("pre", { class: table ? "out table" : kind }, text));
  // Keep the page light however long the session: the oldest lines go.
  while (output.childElementCount > 2000) output.firstElementChild!.remove();
  output.scrollTop = output.scrollHeight;
}

const shellOut = {
  print: (t: string) => {
    line(t, "out");
    app.printed(t);
  },
  error: (t: string) => {
    line(t, "err");
    app.printed(t);
  },
};

function echo(cmd: string): void {
  for (const [i, l] of cmd.split("\n").entries()) line(`${i === 0 ? shell.prompt : ">"} ${l}`, "in");
}

// Command history survives reloads where storage is allowed (not in every embedded frame),
// but for the lines that may carry a password: those last this page only.
const SECRET = /(^|\s)--(user|password|new-user-password)\b|(^|\s)user\s+(add|passwd)\s/;

function loadHistory(): string[] {
  try {
    const h = JSON.parse(localStorage.getItem("metastore-history") ?? "[]");
    return Array.isArray(h) ? h.filter((x) => typeof x === "string") : [];
  } catch {
    return [];
  }
}
const history = loadHistory();
let historyAt = history.length;
/** Commands finished so far (tests wait on it). */
let completed = 0;

/**
 * The lines typed in this page, for the Script view (and its links): a txn's empty lines
 * included, as they end its sections; a line with a password left out (and counted), as a
 * link must not carry it.
 */
const typed = { lines: [] as string[], secret: 0 };

function keep(cmd: string): void {
  const atPrompt = shell.prompt === "$";
  if (SECRET.test(cmd)) typed.secret++;
  else if (!atPrompt || (cmd.trim() !== "" && cmd.trim() !== "clear")) typed.lines.push(cmd);
}

async function submit(cmd: string): Promise<void> {
  keep(cmd);
  if (cmd.trim() !== "" && history[history.length - 1] !== cmd) {
    history.push(cmd);
    try {
      localStorage.setItem("metastore-history", JSON.stringify(history.filter((c) => !SECRET.test(c)).slice(-200)));
    } catch {
      // storage refused: history lasts this page only
    }
  }
  historyAt = history.length;
  try {
    if (cmd.trim() === "clear" && shell.prompt === "$") output.replaceChildren();
    else await app.run(cmd);
  } finally {
    showPrompt();
    completed++;
  }
}

// In a txn, the input shows the syntax its section takes.
const placeholder = input.placeholder;

function showPrompt(): void {
  promptLabel.textContent = shell.prompt;
  input.placeholder = shell.hint || placeholder;
}

$<HTMLFormElement>("#console-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const cmd = input.value;
  input.value = "";
  void submit(cmd);
});

input.addEventListener("keydown", (e) => {
  if (e.key === "ArrowUp" && historyAt > 0) {
    input.value = history[--historyAt];
    e.preventDefault();
  } else if (e.key === "ArrowDown") {
    historyAt = Math.min(history.length, historyAt + 1);
    input.value = history[historyAt] ?? "";
    e.preventDefault();
  } else if (e.key === "c" && e.ctrlKey && input.selectionStart === input.selectionEnd) {
    line(`${shell.prompt} ${input.value}^C`, "in");
    input.value = "";
    shell.interrupt();
    showPrompt();
    e.preventDefault();
  } else if (e.key === "l" && e.ctrlKey) {
    output.replaceChildren();
    e.preventDefault();
  } else if (e.key === "Tab" && !(e.shiftKey || e.ctrlKey || e.altKey || e.metaKey) && input.value.trim() !== ""
    && input.selectionStart === input.value.length) {
    // Completes the last word (a command's name, a flag), or lists what fits. With nothing
    // to complete, Tab moves on as anywhere: the input never traps the focus.
    const c = shell.complete(input.value);
    if (c.line !== input.value) input.value = c.line;
    else if (c.options.length > 0) line(c.options.join("  "), "out");
    else return;
    e.preventDefault();
  }
});

// ---- boot ----

let tab: Api;
try {
  tab = await startTab(".");
} catch (e) {
  const why = (e as { message?: string }).message ?? String(e);
  statusLine.textContent = `the store could not start in this tab: ${why}`;
  line(`MetaStore could not start in this tab (${why}). It needs WebAssembly and Web Workers, served over http(s).`, "err");
  throw e;
}
const shell = new Shell(tab, shellOut);
shell.ask = ask;
taskList(shell, $("#tasks"), (label) => {
  line(`Stopped: ${label}`, "out");
  input.focus(); // its button is gone
});

/** Sets an element's text only when it changes: live regions announce every write. */
function setText(el: HTMLElement, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

// The tab's state is saved shortly after each change (and when the page is hidden or left),
// and restored on load. Only the tab's store is saved, whichever store the page shows.
let unsaved = false;
// Saves run one after another: two at once could finish out of order and leave the older
// snapshot in IndexedDB (a reload then lost the last change).
let saving: Promise<void> = Promise.resolve();
const saveNow = (): Promise<void> =>
  (saving = saving.then(async () => {
    if (!unsaved) return;
    unsaved = false;
    try {
      // The revision before the snapshot: the label never claims more than was saved.
      const rev = (await tab.status()).header?.revision ?? 0n;
      const snap = await tab.tab!.snapshot();
      await persist.save(snap);
      setText(savedState, `saved at rev ${rev}`);
    } catch (e) {
      unsaved = true;
      setText(savedState, `not saved: ${(e as Error).message}`);
    }
  }));
const save = debounce(() => void saveNow(), 200);
addEventListener("pagehide", () => void saveNow());
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") void saveNow();
});

const app = new App(tab, shell, echo, () => {
  const where = app.api.mode === "tab" ? "this tab (WebAssembly)" : app.api.mode === "cluster" ? `the in-tab cluster, ${app.api.endpoint}` : app.api.endpoint;
  const who = app.session ? ` · as ${app.session.creds.user}` : "";
  const why = isRefusal(app.error) ? `refused: ${app.error}${app.session ? "" : " (sign in)"}` : `unreachable: ${app.error}`;
  setText(statusLine, `${where}${who} · ${app.error ? why : `revision ${app.revision}`}`);
  if (app.api.mode === "tab") {
    unsaved = true;
    save();
  }
}, showPrompt, line);

try {
  const snap = await persist.load();
  if (snap) {
    try {
      await tab.tab!.restore(snap);
    } catch (e) {
      // Keep what could not be read (a future format, a damaged write) rather than let the
      // first save overwrite it.
      await persist.stash(snap);
      line(`Could not restore the saved state (${(e as Error).message}); starting empty. The saved bytes are kept in IndexedDB under "${persist.STASH}".`, "err");
    }
  }
} catch (e) {
  line(`Could not read the saved state (${(e as Error).message}); starting empty.`, "err");
}

for (const [id, make] of [["keys", keysPanel], ["watch", watchPanel], ["leases", leasesPanel],
  ["history", historyPanel], ["examples", examplesPanel], ["bench", benchPanel]] as const) {
  const root = $(`#panel-${id}`);
  app.add(make(app, root), root);
}
const scriptRoot = $("#panel-script");
const script = scriptPanel(app, scriptRoot, () => typed);
app.add(script, scriptRoot);
// The in-tab cluster: its own module and worker, loaded on its first start.
// The in-tab cluster: its own module, one worker per run, started from its tab. Once it
// runs, the console and the panels can talk to it through any member (like etcdctl's
// --endpoints), or go back to the single store.
const clusterUse = $("#cluster-use");
const clusterMember = $<HTMLSelectElement>("#cluster-member");
let cluster: ClusterClient | undefined;
clusterPanel($("#panel-cluster"), ".", (c) => {
  const was = app.api instanceof ClusterApi ? app.api.member : "";
  cluster = c;
  clusterUse.hidden = false;
  const names = () => (c.state?.out.members ?? []).filter((m) => !m.removed).map((m) => m.name);
  const fill = () => {
    const want = ["", ...names()];
    if ([...clusterMember.options].map((o) => o.value).join() === want.join()) return;
    const sel = clusterMember.value;
    clusterMember.replaceChildren(...want.map((n) => h("option", { value: n }, n ? `${n} (cluster)` : "the single store")));
    clusterMember.value = want.includes(sel) ? sel : "";
  };
  c.onChange(fill);
  fill();
  // A new run replaces the old: a page that used the old one uses the new one's same member.
  if (was) void useMember(names().includes(was) ? was : names()[0]);
});

async function useMember(member: string): Promise<void> {
  try {
    await switchTo(member && cluster ? new ClusterApi(cluster, member) : tab);
    clusterMember.value = member;
  } catch (e) {
    line(`Error: ${(e as Error).message}`, "err");
  }
}
clusterMember.addEventListener("change", () => void useMember(clusterMember.value));

// Every change to the keyspace, made here or by another client of a server, refreshes the
// views: one watch over all keys (over each range a signed-in user may read, if not all). If
// it ends (a server restarting), it is reopened with backoff; switching stores replaces it.
// feedGen tells a stale feed from the current one.
let feed: WatchHandle[] = [];
let feedGen = 0;
let retry: ReturnType<typeof setTimeout> | undefined;

async function follow(api: Api, scope: KeyRange[] = [ALL]): Promise<void> {
  const gen = ++feedGen;
  clearTimeout(retry);
  for (const h of feed) h.cancel();
  feed = [];
  const opened = await Promise.allSettled(scope.map((r) => api.watch({ ...r }, (w) => {
    if (w.events.length > 0) void app.changed();
  }, () => reconnect(api, scope, gen, 0))));
  const handles = opened.flatMap((o) => (o.status === "fulfilled" ? [o.value] : []));
  const failed = opened.find((o) => o.status === "rejected");
  if (gen === feedGen && !failed) {
    feed = handles;
    return;
  }
  for (const h of handles) h.cancel();
  if (failed) throw failed.reason;
}

function reconnect(api: Api, scope: KeyRange[], gen: number, attempt: number): void {
  if (gen !== feedGen) return;
  void app.changed(); // shows the store as unreachable if it is
  clearTimeout(retry); // once, however many of the feed's watches ended
  retry = setTimeout(() => {
    if (gen !== feedGen) return;
    const p = follow(api, scope);
    const mine = feedGen;
    p.then(() => void app.changed(), () => reconnect(api, scope, mine, attempt + 1));
  }, Math.min(10_000, 500 * 2 ** attempt));
}

// ---- toolbar ----

// A live view of the member in server mode (hidden, and not polling, in the tab).
const member = memberPanel($("#member"));

const endpoint = $<HTMLInputElement>("#endpoint");
const useTab = $<HTMLButtonElement>("#use-tab");
const tabOnly = ["#clock", "#state"].map((s) => $(s));
const serverGroup = $("#server");
if (location.protocol.startsWith("http")) endpoint.placeholder = `e.g. ${location.origin}`;

/** Shows api's store in the views and the console, as session's user (a server's) or without one. */
async function switchTo(api: Api, announce = true, session?: Session): Promise<void> {
  await follow(api, session?.scope); // first: a store whose watch fails is not switched to
  app.use(api, session);
  member.follow(api);
  useTab.hidden = api.mode === "tab";
  for (const el of tabOnly) el.toggleAttribute("hidden", api.mode !== "tab");
  // What only makes sense for one of the two (the tab's clock in the panels' texts, say).
  document.body.dataset.mode = api.mode;
  serverGroup.hidden = api.mode !== "server";
  for (const el of [$("#server-url"), $("#footer-server")]) setText(el, api.mode === "server" ? api.endpoint : "");
  remember(api);
  showSession();
  if (api.mode !== "cluster") clusterMember.value = "";
  if (announce) {
    line(api.mode === "tab" ? "Using the store in this tab." : api.mode === "cluster"
      ? `Using the in-tab cluster through ${api.endpoint} (etcdctl --endpoints=${api.endpoint}; --endpoints picks another member).`
      : `Connected to ${api.endpoint}.`, "out");
  }
}

/**
 * The server the page shows is kept in its address (?server=URL), so that a reload, a
 * bookmark or a link connects to it again (without a user: the password is never kept).
 */
function remember(api: Api): void {
  const u = new URL(location.href);
  if (api.mode === "server") u.searchParams.set("server", api.endpoint);
  else u.searchParams.delete("server");
  // window's history: `history` in this file is the console's.
  if (u.href !== location.href) window.history.replaceState(window.history.state, "", u);
}

/** Connects to the server at address (a URL, or host:port as etcdctl takes it); failures say why in words. */
async function connect(address: string): Promise<void> {
  const url = serverUrl(address);
  try {
    await switchTo(await connectServer(url));
  } catch (err) {
    line(`Error: cannot connect to ${url}: ${(err as Error).message}`, "err");
    return;
  }
  endpoint.value = app.api.endpoint;
  await app.changed();
  if (isRefusal(app.error)) {
    line(`${app.api.endpoint} refuses a client without a user (${app.error}): sign in, or give each command --user NAME:PASSWORD.`, "out");
    userField.focus();
  }
}

$<HTMLFormElement>("#connect").addEventListener("submit", (e) => {
  e.preventDefault();
  void connect(endpoint.value.trim() || location.origin);
});

// ---- sign-in (server mode) ----

// A server with auth on refuses a client without a user. Signed in, the page's views and
// status line read as that user (only the keys it may read), and the console's commands run
// as it unless they say --user. The password is kept in memory only (the field is emptied at
// once, nothing is saved); signing out, switching stores or reloading drops it.
const sessionGroup = $("#session");
const signIn = $<HTMLFormElement>("#sign-in");
const userField = $<HTMLInputElement>("#user");
const passwordField = $<HTMLInputElement>("#password");
const signedIn = $("#signed-in");
const signOut = $<HTMLButtonElement>("#sign-out");

function showSession(): void {
  sessionGroup.hidden = app.api.mode !== "server";
  signIn.hidden = app.session !== undefined;
  signedIn.hidden = signOut.hidden = app.session === undefined;
  setText($("#signed-in-user"), app.session?.creds.user ?? "");
}

signIn.addEventListener("submit", async (e) => {
  e.preventDefault();
  const creds = { user: userField.value, password: passwordField.value };
  passwordField.value = "";
  try {
    const api = await app.api.client(creds); // a wrong password fails here
    await switchTo(api, false, { creds, scope: await readable(api, creds.user) });
    line(`Signed in to ${api.endpoint} as ${creds.user}: the views and the console's commands (unless they say --user) act as ${creds.user}.`, "out");
    signOut.focus();
  } catch (err) {
    line(`Error: cannot sign in as ${creds.user}: ${(err as Error).message}`, "err");
    passwordField.focus();
  }
});

signOut.addEventListener("click", async () => {
  try {
    await switchTo(await app.api.client(), false);
    line(`Signed out of ${app.api.endpoint}.`, "out");
    userField.focus();
  } catch (err) {
    line(`Error: ${(err as Error).message}`, "err");
  }
});
useTab.addEventListener("click", () => void switchTo(tab).catch((e) => line(`Error: ${(e as Error).message}`, "err")));

// ---- the clock (the tab's) ----

// The store's clock is real time moved by what the page did to it: jumps (+10 s, +1 min) and
// pauses (it stands still while real time goes on). The label says how far from real time
// it is and why, and keeps up while it is paused. The clock never runs backwards (a lease
// that expired would be alive again), so "Back to real time" lets a clock that is behind
// catch up at once, and stops one that is ahead until real time reaches it.
const clockState = $<HTMLOutputElement>("#clock-state");
const pause = $<HTMLButtonElement>("#clock-pause");
const realTime = $<HTMLButtonElement>("#clock-real");
/** The clock as last read, and when (performance.now()). */
let clockRead = { paused: false, aheadMs: 0, at: 0 };
/** Seconds jumped since the clock was last at real time. */
let jumped = 0;
/** Set while a clock ahead stands still for real time to reach it. */
let catchUp: ReturnType<typeof setTimeout> | undefined;

/** How far the store's clock is ahead of real time now (ms; below 0: behind). */
function aheadMs(): number {
  return clockRead.paused ? clockRead.aheadMs - (performance.now() - clockRead.at) : clockRead.aheadMs;
}

function showClock(): void {
  const ahead = Math.round(aheadMs() / 1000);
  if (!clockRead.paused && ahead === 0) jumped = 0; // back at real time: a new account starts
  const stood = jumped - ahead; // seconds it stood still, all pauses together
  const why = [jumped > 0 ? `+${jumped} s jumped` : "", stood > 0 ? `${stood} s paused` : ""].filter((x) => x).join(", ");
  const offset = ahead > 0 ? `${ahead} s ahead of real time` : ahead < 0 ? `${-ahead} s behind real time` : "at real time";
  let label = "real time";
  if (catchUp) label = `paused until real time catches up: ${Math.max(ahead, 0)} s to go`;
  else if (clockRead.paused || ahead !== 0) label = `${clockRead.paused ? "paused" : "running"}, ${offset}${why ? ` (${why})` : ""}`;
  setText(clockState, label);
  pause.textContent = clockRead.paused ? "Resume" : "Pause";
  pause.setAttribute("aria-pressed", String(clockRead.paused));
  realTime.hidden = label === "real time";
}
setInterval(showClock, 1000); // a paused clock falls behind by the second

async function clock(action: "" | "pause" | "resume" | "advance", seconds = 0): Promise<void> {
  if (action !== "") stopCatchUp();
  const s = await tab.tab!.clock(action, seconds);
  if (action === "advance") jumped += seconds;
  clockRead = { ...s, at: performance.now() };
  showClock();
  void app.changed();
}

function stopCatchUp(): void {
  clearTimeout(catchUp);
  catchUp = undefined;
}

/** Brings the store's clock back to real time: at once if it is behind, by standing still if it is ahead. */
async function backToRealTime(): Promise<void> {
  stopCatchUp();
  const s = await tab.tab!.clock("");
  if (s.aheadMs > 500) {
    await clock("pause");
    catchUp = setTimeout(() => void backToRealTime(), clockRead.aheadMs);
    showClock();
    return;
  }
  if (s.paused) await clock("resume");
  const behind = Math.round(-clockRead.aheadMs / 1000);
  if (behind > 0) await clock("advance", behind);
  jumped = 0;
  showClock();
}

pause.addEventListener("click", () => void clock(clockRead.paused ? "resume" : "pause"));
for (const b of document.querySelectorAll<HTMLButtonElement>("[data-advance]")) {
  b.addEventListener("click", () => void clock("advance", Number(b.dataset.advance)));
}
realTime.addEventListener("click", () => void backToRealTime());

// ---- the tab's state ----

$("#import-button").addEventListener("click", () => $<HTMLInputElement>("#import").click());

$("#export").addEventListener("click", async () => {
  const snap = await tab.tab!.snapshot();
  const a = h("a", { href: URL.createObjectURL(new Blob([snap as BlobPart])), download: `metastore-rev${app.revision}.snap` });
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000); // some browsers start the download later
  line(`Exported revision ${app.revision} (${snap.length} bytes).`, "out");
});

$<HTMLInputElement>("#import").addEventListener("change", async (e) => {
  const f = (e.target as HTMLInputElement).files?.[0];
  if (!f) return;
  // As Reset does: what the file replaces cannot be had back (but by an Export first).
  if (!(await ask(`Replace this tab's store with ${f.name}? Everything in the store now is lost (Export saves it first).`, "Replace the store"))) {
    (e.target as HTMLInputElement).value = "";
    return;
  }
  try {
    await tab.tab!.restore(new Uint8Array(await f.arrayBuffer()));
    await switchTo(tab, false); // the restore closed the old store's watches
    await app.changed();
    line(`Imported ${f.name}: revision ${app.revision}.`, "out");
  } catch (err) {
    line(`Error: ${(err as Error).message}`, "err");
  }
  (e.target as HTMLInputElement).value = "";
});

$("#reset").addEventListener("click", async () => {
  if (!(await ask("Start over with an empty store, the clock at real time? Everything in this tab's store is lost.", "Start over"))) return;
  await tab.tab!.reset();
  await backToRealTime();
  await switchTo(tab, false);
  line("Started over: an empty store.", "out");
});

// ---- tabs ----

const tabs = [...document.querySelectorAll<HTMLButtonElement>("[role=tab]")];
function select(t: HTMLButtonElement): void {
  for (const o of tabs) {
    o.setAttribute("aria-selected", String(o === t));
    o.tabIndex = o === t ? 0 : -1;
    $(`#${o.getAttribute("aria-controls")}`).hidden = o !== t;
  }
  void app.changed(); // the panel now in view catches up
}
for (const [i, t] of tabs.entries()) {
  t.addEventListener("click", () => select(t));
  t.addEventListener("keydown", (e) => {
    const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    const n = tabs[(to + tabs.length) % tabs.length];
    select(n);
    n.focus();
  });
}

select(tabs[0]);

/** A link with a script (#script=…) shows it in the Script view, ready to run: a link runs nothing. */
function openLinked(): void {
  const s = linkedScript(location.href);
  if (s === undefined) return;
  script.load(s);
  select($<HTMLButtonElement>("#tab-script"));
}
openLinked();
addEventListener("hashchange", openLinked);
await follow(tab);
await clock("");
await app.changed();
input.disabled = false;
input.focus();
line("MetaStore: a real etcd v3 store in this tab. Type etcdctl commands (try: help), or pick an example.", "out");

// For tests and the curious: the page's pieces.
Object.assign(globalThis, {
  playground: {
    app, shell, tab, ready: true, readyMs: performance.now(),
    saveNow, run: (cmd: string) => submit(cmd), get completed() { return completed; },
  },
});

// A reload (or a link) of a page that showed a server connects to it again.
const wanted = new URL(location.href).searchParams.get("server");
if (wanted) {
  endpoint.value = wanted;
  await connect(wanted);
  if (app.api.mode === "tab") remember(tab); // it failed (and said why): the address shows the tab again
}
