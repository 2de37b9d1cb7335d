// The playground page: boots the core in this tab (restoring the state saved in IndexedDB),
// wires the console, the toolbar and the panels, and can switch all of them to a live server.
import { connectServer, isRefusal, startTab, type Api, type WatchHandle } from "./api.js";
import { App, readable, type KeyRange, type Session } from "./app.js";
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

const output = $<HTMLDivElement>("#output");
const input = $<HTMLInputElement>("#command");
const promptLabel = $<HTMLLabelElement>("#prompt");
const statusLine = $("#status");
const savedState = $<HTMLOutputElement>("#saved");

// ---- the console ----

function line(text: string, kind: "in" | "out" | "err"): void {
  output.append(h("pre", { class: kind }, text));
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

async function submit(cmd: string): Promise<void> {
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

function showPrompt(): void {
  promptLabel.textContent = shell.prompt;
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
  const where = app.api.mode === "tab" ? "this tab (WebAssembly)" : app.api.endpoint;
  const who = app.session ? ` · as ${app.session.creds.user}` : "";
  const why = isRefusal(app.error) ? `refused: ${app.error}${app.session ? "" : " (sign in)"}` : `unreachable: ${app.error}`;
  setText(statusLine, `${where}${who} · ${app.error ? why : `revision ${app.revision}`}`);
  if (app.api.mode === "tab") {
    unsaved = true;
    save();
  }
}, showPrompt);

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
if (location.protocol.startsWith("http")) endpoint.placeholder = `e.g. ${location.origin}`;

/** Shows api's store in the views and the console, as session's user (a server's) or without one. */
async function switchTo(api: Api, announce = true, session?: Session): Promise<void> {
  await follow(api, session?.scope); // first: a store whose watch fails is not switched to
  app.use(api, session);
  member.follow(api);
  useTab.hidden = api.mode === "tab";
  for (const el of tabOnly) el.toggleAttribute("hidden", api.mode !== "tab");
  showSession();
  if (announce) line(api.mode === "tab" ? "Using the store in this tab." : `Connected to ${api.endpoint}.`, "out");
}

$<HTMLFormElement>("#connect").addEventListener("submit", async (e) => {
  e.preventDefault();
  const url = endpoint.value.trim() || location.origin;
  try {
    await switchTo(await connectServer(url));
  } catch (err) {
    line(`Error: cannot connect to ${url}: ${(err as Error).message}`, "err");
    return;
  }
  await app.changed();
  if (isRefusal(app.error)) {
    line(`${app.api.endpoint} refuses a client without a user (${app.error}): sign in, or give each command --user NAME:PASSWORD.`, "out");
    userField.focus();
  }
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

const clockState = $<HTMLOutputElement>("#clock-state");
const pause = $<HTMLButtonElement>("#clock-pause");
async function clock(action: "" | "pause" | "resume" | "advance", seconds = 0): Promise<void> {
  const s = await tab.tab!.clock(action, seconds);
  pause.textContent = s.paused ? "Resume" : "Pause";
  pause.setAttribute("aria-pressed", String(s.paused));
  const ahead = Math.round(s.aheadMs / 1000);
  setText(clockState, `${s.paused ? "paused" : "running"}, ${ahead > 0 ? `${ahead} s ahead` : ahead < 0 ? `${-ahead} s behind` : "real time"}`);
  void app.changed();
}
pause.addEventListener("click", () => void clock(pause.textContent === "Pause" ? "pause" : "resume"));
for (const b of document.querySelectorAll<HTMLButtonElement>("[data-advance]")) {
  b.addEventListener("click", () => void clock("advance", Number(b.dataset.advance)));
}

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
  if (!confirm("Start over with an empty store? Everything in this tab's store is lost.")) return;
  await tab.tab!.reset();
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
