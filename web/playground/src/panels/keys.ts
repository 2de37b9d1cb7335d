// The key tree: keys split on "/" into folders, a filter by a part of the key, a value view
// that pretty-prints JSON and shows the key's lease with the time it has left, and
// create/edit/delete. Writes go through the same Api as the console.
import type { KeyValue } from "../../../client/src/gen/etcd/api/mvccpb/kv_pb.js";
import { etcdctl, type App, type Panel } from "../app.js";
import { ALL, bytes, h, hex, pretty, text } from "../dom.js";

/** Shown at most; a bigger keyspace is cut (the console can page through it). */
const LIMIT = 1000n;

interface Folder {
  folders: Map<string, Folder>;
  keys: KeyValue[];
}

/** tree groups keys by their "/"-separated segments; a leading "/" makes an empty first segment, shown as "/". */
export function tree(kvs: KeyValue[]): Folder {
  const root: Folder = { folders: new Map(), keys: [] };
  for (const kv of kvs) {
    const parts = text(kv.key).split("/");
    let f = root;
    for (const p of parts.slice(0, -1)) {
      let next = f.folders.get(p);
      if (!next) f.folders.set(p, (next = { folders: new Map(), keys: [] }));
      f = next;
    }
    f.keys.push(kv);
  }
  return root;
}

export function keysPanel(app: App, root: HTMLElement): Panel {
  let selected: string | undefined;
  const closed = new Set<string>(); // folders are open unless closed by hand
  const treeEl = h("nav", { class: "tree", "aria-label": "keys" });
  const count = h("p", { class: "muted" });
  const view = h("div", { class: "value-view", "aria-label": "value" });
  const newKey = h("input", { name: "key", "aria-label": "new key", placeholder: "/services/web/1", required: true });
  const newValue = h("input", { name: "value", "aria-label": "new value", placeholder: '{"addr": "10.0.0.1:80"}' });
  const err = h("p", { class: "err", role: "alert" });
  const filter = h("input", {
    type: "search", "aria-label": "filter keys", placeholder: "filter keys", autocomplete: "off", autocapitalize: "off", spellcheck: "false",
    oninput: () => void render(),
    onkeydown: (e: Event) => {
      if ((e as KeyboardEvent).key !== "Escape" || filter.value === "") return;
      filter.value = "";
      void render();
      e.preventDefault();
    },
  });
  const matched = h("output", { "aria-label": "keys matching the filter" });

  const fail = (e: unknown) => (err.textContent = `Error: ${(e as Error).message}`);

  root.append(
    h("form", {
      class: "row", onsubmit: async (e: Event) => {
        e.preventDefault();
        err.textContent = "";
        try {
          app.wrote((await app.did(etcdctl("put", [newKey.value, newValue.value]),
            () => app.api.put({ key: bytes(newKey.value), value: bytes(newValue.value) }), () => "OK")).header);
          selected = newKey.value;
          newKey.value = newValue.value = "";
          await app.changed();
        } catch (x) {
          fail(x);
        }
      },
    }, newKey, newValue, h("button", { type: "submit" }, "Put")),
    err, count, h("div", { class: "row" }, filter, matched), h("div", { class: "split" }, treeEl, view),
  );

  function renderFolder(f: Folder, path: string): HTMLElement {
    const ul = h("ul");
    for (const name of [...f.folders.keys()].sort()) {
      const p = `${path}${name}/`;
      const d = h("details", { open: !closed.has(p) }, h("summary", {}, name === "" ? "/" : `${name}/`),
        renderFolder(f.folders.get(name)!, p));
      d.addEventListener("toggle", () => (d.open ? closed.delete(p) : closed.add(p)));
      ul.append(h("li", {}, d));
    }
    for (const kv of f.keys) {
      const key = text(kv.key);
      const leaf = key.slice(path.length) || key;
      ul.append(h("li", {},
        h("button", {
          class: "key", type: "button", title: key, "aria-current": key === selected ? "true" : undefined,
          onclick: () => { selected = key; void render().then(showLease); },
        }, leaf)));
    }
    return ul;
  }

  let last: KeyValue[] = [];
  // What is on screen, so a refresh redraws only what changed: the tree when the keys do,
  // the value view when the selected key does, and never under someone editing it.
  let treeShown = "";
  let viewShown = "";
  let editor: { area: HTMLTextAreaElement; original: string } | undefined;
  const stale = h("p", { class: "muted", role: "status" });

  const editing = () => editor !== undefined && (document.activeElement === editor.area || editor.area.value !== editor.original);

  /** The selected key's lease, and where the view shows it. */
  let leaseShown: { id: bigint; dd: HTMLElement } | undefined;

  /** Shows the time the selected key's lease has left, as the store counts it (its clock, a keep-alive). */
  async function showLease(): Promise<void> {
    const l = leaseShown;
    if (!l) return;
    let left: string;
    try {
      const t = await app.api.leaseTimeToLive(l.id, false);
      left = t.TTL < 0n ? "expired" : `${t.TTL} s left of ${t.grantedTTL} s`;
    } catch (e) {
      left = `time left not read: ${(e as Error).message}`;
    }
    const shown = `${hex(l.id)} · ${left}`;
    if (l === leaseShown && l.dd.textContent !== shown) l.dd.textContent = shown;
  }

  async function render(): Promise<void> {
    // Keys containing the filter's text, in any case.
    const part = filter.value.toLowerCase();
    const kept = part ? last.filter((k) => text(k.key).toLowerCase().includes(part)) : last;
    const n = kept.length;
    const says = !part ? "" : n === 0 ? `No key matches “${filter.value}”.`
      : `${n} of ${last.length} key${last.length === 1 ? "" : "s"} match${n === 1 ? "es" : ""}`;
    if (matched.textContent !== says) matched.textContent = says; // a live region: written only when it changes
    const treeNow = `${selected}\u0000${kept.map((k) => text(k.key)).join("\u0000")}`;
    if (treeNow !== treeShown) {
      treeShown = treeNow;
      treeEl.replaceChildren(renderFolder(tree(kept), ""));
    }
    const kv = last.find((k) => text(k.key) === selected);
    const viewNow = kv ? `${selected}@${kv.modRevision}` : `none:${selected ?? ""}`;
    if (viewNow === viewShown) return;
    if (editing()) {
      stale.textContent = kv ? `Changed meanwhile (revision ${kv.modRevision}): Save overwrites it.` : "Deleted meanwhile: Save creates it again.";
      return;
    }
    viewShown = viewNow;
    editor = undefined;
    leaseShown = undefined;
    stale.textContent = "";
    if (!kv) {
      view.replaceChildren(h("p", { class: "muted" }, selected ? `${selected} is gone.` : "Pick a key to see its value."));
      return;
    }
    const raw = kv.value;
    const area = h("textarea", { "aria-label": "value of the selected key", rows: 8 }) as HTMLTextAreaElement;
    area.value = pretty(text(raw));
    editor = { area, original: area.value };
    const key = selected!;
    const done = async () => {
      editor = undefined;
      viewShown = "";
      await app.changed();
    };
    const lease = h("dd", {}, kv.lease ? hex(kv.lease) : "none");
    if (kv.lease) leaseShown = { id: kv.lease, dd: lease };
    view.replaceChildren(
      h("h3", { class: "mono" }, key),
      h("dl", { class: "meta" },
        h("dt", {}, "create rev"), h("dd", {}, String(kv.createRevision)),
        h("dt", {}, "mod rev"), h("dd", {}, String(kv.modRevision)),
        h("dt", {}, "version"), h("dd", {}, String(kv.version)),
        h("dt", {}, "lease"), lease),
      area, stale,
      h("div", { class: "row" },
        h("button", {
          type: "button", onclick: async () => {
            try {
              // Unedited, the stored bytes go back as they were (not pretty-printed); the
              // lease is kept, as etcdctl put --ignore-lease would.
              const unedited = area.value === editor?.original;
              const value = unedited ? raw : bytes(area.value);
              app.wrote((await app.did(etcdctl("put", [key, unedited ? text(raw) : area.value], kv.lease ? ["--ignore-lease"] : []),
                () => app.api.put({ key: bytes(key), value, ignoreLease: kv.lease !== 0n }), () => "OK")).header);
              await done();
            } catch (x) {
              fail(x);
            }
          },
        }, "Save"),
        h("button", {
          type: "button", class: "danger", onclick: async () => {
            try {
              app.wrote((await app.did(etcdctl("del", [key]), () => app.api.deleteRange({ key: bytes(key) }), (r) => String(r.deleted))).header);
              await done();
            } catch (x) {
              fail(x);
            }
          },
        }, "Delete")),
    );
  }

  // The time left counts down between changes: while in view, it is read again each second.
  setInterval(() => {
    if (!root.hidden && leaseShown) void showLease();
  }, 1000);

  return {
    async refresh() {
      const r = await app.read({ limit: LIMIT }).catch((e: Error) => {
        // The tree shown (if any) is what the store held before: say it is not current.
        count.textContent = `Keys not read: ${e.message}`;
        throw e;
      });
      last = r.kvs;
      // A user who may read only some keys sees those (the count says so).
      const who = app.scope[0] === ALL ? "" : ` ${app.session?.creds.user} may read`;
      count.textContent = `${r.count} key${r.count === 1n ? "" : "s"}${who}${r.more ? ` (first ${LIMIT} shown)` : ""} at revision ${r.header?.revision ?? 0n}`;
      await render();
      await showLease();
    },
    reset() {
      selected = undefined;
      editor = undefined;
      leaseShown = undefined;
      treeShown = viewShown = "";
      last = [];
      count.textContent = "";
      treeEl.replaceChildren();
    },
  };
}
