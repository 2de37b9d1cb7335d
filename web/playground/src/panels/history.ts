// Revision time-travel: a slider over the revisions the store still holds shows the
// keyspace as it was at revision N; a key's history (every version it had, from a watch
// replaying the past); and a diff between two revisions. Compacting moves the slider's
// start: the history before it is gone, as in etcd.
import { Event_EventType, type KeyValue } from "../../../client/src/gen/etcd/api/mvccpb/kv_pb.js";
import type { Api } from "../api.js";
import type { App, Panel } from "../app.js";
import { ALL, bytes, h, text } from "../dom.js";

const LIMIT = 1000n;

/** etcd's error for a read before the compacted revision (OutOfRange, like a future one). */
const isCompacted = (e: unknown) => (e as { code?: number }).code === 11 && String((e as Error).message).includes("compacted");

/**
 * oldestRevision finds the oldest revision the store can still read (etcd has no call that
 * tells): ranges at a revision at or after the compaction succeed, before it fail. guess, the
 * answer last time, is checked first (two reads) before searching.
 */
export async function oldestRevision(api: Api, current: bigint, guess = 0n, probe: Uint8Array = ALL.key): Promise<bigint> {
  let lo = 1n, hi = current; // invariant: reading at hi works
  if (hi < 1n) return 1n;
  const readable = async (rev: bigint) => {
    try {
      await api.range({ key: probe, revision: rev, countOnly: true }); // one key (one the user may read): cheap
      return true;
    } catch (e) {
      if (isCompacted(e)) return false;
      throw e;
    }
  };
  if (await readable(lo)) return lo;
  if (guess > 1n && guess <= current && (await readable(guess)) && !(await readable(guess - 1n))) return guess;
  while (hi - lo > 1n) {
    const mid = (lo + hi) / 2n;
    if (await readable(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

interface Version {
  rev: bigint;
  type: "PUT" | "DELETE";
  value: string;
  version: bigint;
}

/**
 * keyHistory is every change of key the store still holds, up to now: a watch from the oldest
 * revision replays them. Now is read here, not taken from the page's last refresh, which may
 * not have seen a write just made (through a cluster member the refresh lags by ticks).
 */
export async function keyHistory(api: Api, key: Uint8Array, from: bigint): Promise<Version[]> {
  const out: Version[] = [];
  const now = await api.range({ key });
  const current = now.header?.revision ?? 0n;
  const last = now.kvs[0]?.modRevision;
  await new Promise<void>((resolve, reject) => {
    let idle: ReturnType<typeof setTimeout> | undefined;
    let handle: { cancel(): void } | undefined;
    const done = () => {
      clearTimeout(idle);
      handle?.cancel();
      resolve();
    };
    // A key that exists now: the replay is complete at its last revision (with a limit in
    // case the watch stalls). A key deleted last has no revision to wait for: a quiet spell
    // after the last delivery ends it (the tab answers at once; a server gets longer).
    const wait = last !== undefined ? 10_000 : api.mode === "tab" ? 150 : 1500;
    const quiet = () => {
      clearTimeout(idle);
      idle = setTimeout(done, wait);
    };
    quiet();
    api.watch({ key, startRevision: from }, (w) => {
      for (const ev of w.events) {
        const kv = ev.kv!;
        if (kv.modRevision > current) continue;
        out.push({ rev: kv.modRevision, type: ev.type === Event_EventType.PUT ? "PUT" : "DELETE", value: text(kv.value), version: kv.version });
      }
      if (w.canceled) return reject(new Error(w.cancelReason || "watch cancelled"));
      if (last !== undefined && out.length > 0 && out[out.length - 1].rev >= last) return done();
      if (last === undefined) quiet();
    }, reject).then((hd) => (handle = hd), reject);
  });
  return out;
}

interface Change {
  key: string;
  before?: string;
  after?: string;
}

export function diff(a: KeyValue[], b: KeyValue[]): Change[] {
  const before = new Map(a.map((kv) => [text(kv.key), kv]));
  const after = new Map(b.map((kv) => [text(kv.key), kv]));
  const out: Change[] = [];
  for (const k of [...new Set([...before.keys(), ...after.keys()])].sort()) {
    const x = before.get(k), y = after.get(k);
    if (x && y && x.modRevision === y.modRevision) continue;
    out.push({ key: k, before: x ? text(x.value) : undefined, after: y ? text(y.value) : undefined });
  }
  return out;
}

export function historyPanel(app: App, root: HTMLElement): Panel {
  const slider = h("input", { type: "range", min: 1, max: 1, value: 1, "aria-label": "revision" }) as HTMLInputElement;
  const at = h("output", { "aria-label": "selected revision", class: "mono" });
  const range = h("p", { class: "muted" });
  const snapshot = h("tbody", { "aria-label": "keyspace at revision" });
  const follow = h("input", { type: "checkbox", checked: true }) as HTMLInputElement;
  const key = h("input", { "aria-label": "history key", placeholder: "key" });
  const versions = h("tbody");
  const a = h("input", { "aria-label": "diff from revision", size: 6, inputmode: "numeric" });
  const b = h("input", { "aria-label": "diff to revision", size: 6, inputmode: "numeric" });
  const changes = h("tbody");
  const compactAt = h("input", { "aria-label": "compact at revision", size: 6, inputmode: "numeric" });
  // Each section has its own error line, under its form: one line at the top of the panel
  // was out of view when the diff or the history, further down, failed.
  const errs = { at: error(), history: error(), diff: error(), compact: error() };
  let oldest = 1n;
  /** The key whose history is shown, and its versions as read (rows below oldest are dropped when shown). */
  let shownHistory: { key: string; versions: Version[] } | undefined;
  /** The revisions of the diff shown. */
  let shownDiff: { from: bigint; to: bigint } | undefined;

  /**
   * A section's action: its failure shows in the section's error line (brought into view if
   * the action was the user's) and empties the section's results, which no longer answer
   * what the form asks.
   */
  const guard = (err: HTMLElement, results: HTMLElement | undefined, f: () => Promise<void>) => async (e?: Event) => {
    e?.preventDefault();
    err.textContent = "";
    try {
      await f();
    } catch (x) {
      results?.replaceChildren();
      const hint = isCompacted(x) ? ` (the oldest revision still readable is ${oldest})` : "";
      err.textContent = `Error: ${(x as Error).message}${hint}`;
      if (e) err.scrollIntoView({ block: "nearest" });
    }
  };

  let asked = 0; // answers to older slider positions are dropped
  const showAt = guard(errs.at, snapshot, async () => {
    const rev = BigInt(slider.value);
    const mine = ++asked;
    at.textContent = String(rev);
    const r = await app.read({ revision: rev, limit: LIMIT });
    if (mine !== asked) return;
    snapshot.replaceChildren(...r.kvs.map((kv) => h("tr", {},
      h("td", { class: "mono" }, text(kv.key)), h("td", { class: "mono" }, text(kv.value)),
      h("td", {}, String(kv.modRevision)), h("td", {}, String(kv.version)))));
    if (r.kvs.length === 0) snapshot.append(h("tr", {}, h("td", { colspan: 4, class: "muted" }, `no keys at revision ${rev}`)));
  });

  /**
   * Shows a key's versions from the oldest revision still readable, and says when history
   * before it was compacted: the rows that are gone are not silently missing.
   */
  function renderHistory(): void {
    if (!shownHistory) return;
    const { key: k, versions: all } = shownHistory;
    const vs = all.filter((v) => v.rev >= oldest);
    versions.replaceChildren(...vs.map((v) => h("tr", { class: v.type === "PUT" ? "put" : "delete" },
      h("td", {}, String(v.rev)), h("td", {}, v.type), h("td", {}, v.type === "PUT" ? String(v.version) : ""),
      h("td", { class: "mono" }, v.value))));
    if (vs.length === 0) versions.append(h("tr", {}, h("td", { colspan: 4, class: "muted" }, `no history for ${k} since revision ${oldest}`)));
    if (oldest > 1n) {
      versions.prepend(h("tr", { class: "compacted" }, h("td", { colspan: 4, class: "muted" },
        `revisions before ${oldest} were compacted: ${k}'s changes before then are gone`)));
    }
  }

  const showHistory = guard(errs.history, versions, async () => {
    shownHistory = undefined;
    if (!key.value) return;
    shownHistory = { key: key.value, versions: await keyHistory(app.api, bytes(key.value), oldest) };
    renderHistory();
  });

  const num = (v: string, dflt: bigint, what: string) => {
    if (v.trim() === "") return dflt;
    if (!/^\d+$/.test(v.trim())) throw new Error(`${what} is a revision number`);
    return BigInt(v.trim());
  };

  const showDiff = guard(errs.diff, changes, async () => {
    shownDiff = undefined;
    const [x, y] = [num(a.value, oldest, "from"), num(b.value, app.revision, "to")];
    const [ra, rb] = await Promise.all([app.read({ revision: x }), app.read({ revision: y })]);
    const d = diff(ra.kvs, rb.kvs);
    changes.replaceChildren(...d.map((c) => h("tr", { class: c.before === undefined ? "put" : c.after === undefined ? "delete" : "" },
      h("td", { class: "mono" }, c.key), h("td", { class: "mono" }, c.before ?? "—"), h("td", { class: "mono" }, c.after ?? "—"))));
    if (d.length === 0) changes.append(h("tr", {}, h("td", { colspan: 3, class: "muted" }, `no difference between ${x} and ${y}`)));
    shownDiff = { from: x, to: y };
  });

  /** After a compaction: what the sections show from before it is cut, or dropped, rather than left as if still readable. */
  function compacted(): void {
    renderHistory();
    if (shownDiff && shownDiff.from < oldest) {
      changes.replaceChildren(h("tr", {}, h("td", { colspan: 3, class: "muted" },
        `revision ${shownDiff.from} has been compacted since: the diff from it is gone`)));
      shownDiff = undefined;
    }
  }

  slider.addEventListener("input", () => {
    follow.checked = slider.value === slider.max;
    void showAt();
  });

  root.append(
    h("section", { "aria-label": "keyspace at a revision" },
      h("h3", {}, "The keyspace at revision ", at),
      h("div", { class: "row" }, slider, h("label", {}, follow, " follow the latest")), range, errs.at,
      h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "key"), h("th", {}, "value"), h("th", {}, "mod rev"), h("th", {}, "version"))), snapshot)),
    h("section", { "aria-label": "key history" },
      h("h3", {}, "History of a key"),
      h("form", { class: "row", onsubmit: showHistory }, key, h("button", { type: "submit" }, "Show")), errs.history,
      h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "rev"), h("th", {}, "event"), h("th", {}, "version"), h("th", {}, "value"))), versions)),
    h("section", { "aria-label": "diff" },
      h("h3", {}, "What changed between two revisions"),
      h("form", { class: "row", onsubmit: showDiff }, "from", a, "to", b, h("button", { type: "submit" }, "Diff")), errs.diff,
      h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "key"), h("th", {}, "before"), h("th", {}, "after"))), changes)),
    h("section", { "aria-label": "compaction" },
      h("h3", {}, "Compaction"),
      h("form", {
        class: "row", onsubmit: guard(errs.compact, undefined, async () => {
          await app.run(`compaction ${num(compactAt.value, app.revision, "the compaction point")}`);
        }),
      }, "compact history before", compactAt, h("button", { type: "submit" }, "Compact")), errs.compact,
      h("p", { class: "muted" }, "Reading before the compacted revision fails with etcd's error; the slider starts there.")),
  );

  return {
    async refresh() {
      const before = oldest;
      oldest = await oldestRevision(app.api, app.revision, oldest, app.scope[0]?.key);
      if (oldest !== before) compacted();
      slider.min = String(oldest);
      slider.max = String(app.revision);
      if (follow.checked || BigInt(slider.value) < oldest) slider.value = String(app.revision);
      range.textContent = `revisions ${oldest} to ${app.revision} are readable${oldest > 1n ? ` (compacted at ${oldest})` : ""}`;
      await showAt();
    },
    reset() {
      oldest = 1n;
      follow.checked = true;
      shownHistory = shownDiff = undefined;
      versions.replaceChildren();
      changes.replaceChildren();
      for (const e of Object.values(errs)) e.textContent = "";
    },
  };
}

/** A section's error line: announced when it is written. */
const error = () => h("p", { class: "err", role: "alert" });
