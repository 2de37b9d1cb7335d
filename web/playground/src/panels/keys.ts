// The key tree: keys split on "/" into folders, a value view that pretty-prints JSON, and
// create/edit/delete. Writes go through the same Api as the console.
import type { KeyValue } from "../../../client/src/gen/etcd/api/mvccpb/kv_pb.js";
import type { App, Panel } from "../app.js";
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
  const treeEl = h("div", { class: "tree", role: "tree", "aria-label": "keys" });
  const count = h("p", { class: "muted" });
  const view = h("div", { class: "value-view", "aria-label": "value" });
  const newKey = h("input", { name: "key", "aria-label": "new key", placeholder: "/services/web/1", required: true });
  const newValue = h("input", { name: "value", "aria-label": "new value", placeholder: '{"addr": "10.0.0.1:80"}' });
  const err = h("p", { class: "err", role: "alert" });

  const fail = (e: unknown) => (err.textContent = `Error: ${(e as Error).message}`);

  root.append(
    h("form", {
      class: "row", onsubmit: async (e: Event) => {
        e.preventDefault();
        err.textContent = "";
        try {
          await app.api.put({ key: bytes(newKey.value), value: bytes(newValue.value) });
          selected = newKey.value;
          newKey.value = newValue.value = "";
          await app.changed();
        } catch (x) {
          fail(x);
        }
      },
    }, newKey, newValue, h("button", { type: "submit" }, "Put")),
    err, count, h("div", { class: "split" }, treeEl, view),
  );

  function renderFolder(f: Folder, path: string, depth: number): HTMLElement {
    const ul = h("ul", { role: depth === 0 ? "none" : "group" });
    for (const name of [...f.folders.keys()].sort()) {
      const p = `${path}${name}/`;
      const d = h("details", { open: !closed.has(p) }, h("summary", {}, name === "" ? "/" : `${name}/`),
        renderFolder(f.folders.get(name)!, p, depth + 1));
      const li = h("li", { role: "treeitem", "aria-expanded": String(!closed.has(p)) }, d);
      d.addEventListener("toggle", () => {
        if (d.open) closed.delete(p);
        else closed.add(p);
        li.setAttribute("aria-expanded", String(d.open));
      });
      ul.append(li);
    }
    for (const kv of f.keys) {
      const key = text(kv.key);
      const leaf = key.slice(path.length) || key;
      ul.append(h("li", { role: "treeitem", "aria-selected": String(key === selected) },
        h("button", { class: "key", type: "button", title: key, onclick: () => { selected = key; void render(); } }, leaf)));
    }
    return ul;
  }

  let last: KeyValue[] = [];

  async function render(): Promise<void> {
    treeEl.replaceChildren(renderFolder(tree(last), "", 0));
    const kv = last.find((k) => text(k.key) === selected);
    if (!kv) {
      view.replaceChildren(h("p", { class: "muted" }, selected ? `${selected} is gone.` : "Pick a key to see its value."));
      return;
    }
    const area = h("textarea", { "aria-label": "value of the selected key", rows: 8 }) as HTMLTextAreaElement;
    area.value = pretty(text(kv.value));
    view.replaceChildren(
      h("h3", { class: "mono" }, selected!),
      h("dl", { class: "meta" },
        h("dt", {}, "create rev"), h("dd", {}, String(kv.createRevision)),
        h("dt", {}, "mod rev"), h("dd", {}, String(kv.modRevision)),
        h("dt", {}, "version"), h("dd", {}, String(kv.version)),
        h("dt", {}, "lease"), h("dd", {}, kv.lease ? hex(kv.lease) : "none")),
      area,
      h("div", { class: "row" },
        h("button", {
          type: "button", onclick: async () => {
            try {
              // Keep the lease, as etcdctl put --ignore-lease would.
              await app.api.put({ key: kv.key, value: bytes(area.value), ignoreLease: kv.lease !== 0n });
              await app.changed();
            } catch (x) {
              fail(x);
            }
          },
        }, "Save"),
        h("button", {
          type: "button", class: "danger", onclick: async () => {
            try {
              await app.api.deleteRange({ key: kv.key });
              await app.changed();
            } catch (x) {
              fail(x);
            }
          },
        }, "Delete")),
    );
  }

  return {
    async refresh() {
      const r = await app.api.range({ ...ALL, limit: LIMIT });
      last = r.kvs;
      count.textContent = `${r.count} key${r.count === 1n ? "" : "s"}${r.more ? ` (first ${LIMIT} shown)` : ""} at revision ${r.header?.revision ?? 0n}`;
      await render();
    },
    reset() {
      selected = undefined;
    },
  };
}
