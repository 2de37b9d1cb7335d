// The watch panel: live events (type, key, revision, value, previous value) for a key or a
// prefix, from now or from a past revision; several watches at once.
import { Event_EventType } from "../../../client/src/gen/etcd/api/mvccpb/kv_pb.js";
import type { WatchHandle } from "../api.js";
import type { App, Panel } from "../app.js";
import { ALL, bytes, h, prefixEnd, text } from "../dom.js";

/** Events kept per watch; older ones scroll away. */
const KEEP = 500;

/**
 * What a watch card says once its watch is created at revision now. A watch from a past
 * revision first replays the events since then: the card names the revision asked for, not
 * the store's current one (which the created answer's header carries).
 */
function started(from: bigint, now: bigint): string {
  if (from === 0n) return `watching since revision ${now}`;
  if (from > now) return `watching from revision ${from} (a future revision: nothing until then)`;
  return `watching from revision ${from}: replaying revisions ${from} to ${now}, then live`;
}

export function watchPanel(app: App, root: HTMLElement): Panel {
  const key = h("input", { name: "key", "aria-label": "watch key", placeholder: "/services/", value: "" });
  const prefix = h("input", { type: "checkbox", name: "prefix", checked: true });
  const from = h("input", { name: "rev", "aria-label": "from revision", inputmode: "numeric", placeholder: "from rev", size: 9 });
  const err = h("p", { class: "err", role: "alert" });
  const list = h("div", { class: "watches" });
  const handles = new Set<WatchHandle>();
  let store = 0; // bumped when the page switches stores: a watch opened meanwhile is dropped

  async function start(e: Event): Promise<void> {
    e.preventDefault();
    err.textContent = "";
    const k = bytes(key.value);
    const what = `${key.value || "(all keys)"}${prefix.checked ? " (prefix)" : ""}`;
    const rows = h("tbody");
    const state = h("span", { class: "muted" }, "starting…");
    let handle: WatchHandle | undefined;
    const card = h("section", { class: "card", "aria-label": `watch ${what}` },
      h("header", { class: "row" }, h("strong", { class: "mono" }, what), state,
        h("button", {
          type: "button", onclick: () => {
            if (handle) {
              handle.cancel();
              handles.delete(handle);
            }
            card.remove();
          },
        }, "Cancel")),
      h("table", { class: "events" },
        h("thead", {}, h("tr", {}, h("th", {}, "type"), h("th", {}, "key"), h("th", {}, "rev"), h("th", {}, "value"), h("th", {}, "prev value"))),
        rows));
    const mine = store;
    if (from.value.trim() !== "" && !/^\d+$/.test(from.value.trim())) {
      err.textContent = "Error: the start is a revision number";
      return;
    }
    const startRevision = from.value.trim() ? BigInt(from.value.trim()) : 0n;
    try {
      handle = await app.api.watch({
        ...(key.value === "" ? ALL : { key: k, rangeEnd: prefix.checked ? prefixEnd(k) : undefined }),
        startRevision,
        prevKv: true,
      }, (w) => {
        if (w.created) state.textContent = started(startRevision, w.header?.revision ?? 0n);
        if (w.canceled) state.textContent = `cancelled: ${w.cancelReason}${w.compactRevision ? ` (compacted at ${w.compactRevision})` : ""}`;
        for (const ev of w.events) {
          const put = ev.type === Event_EventType.PUT;
          rows.prepend(h("tr", { class: put ? "put" : "delete" },
            h("td", {}, put ? "PUT" : "DELETE"), h("td", { class: "mono" }, text(ev.kv?.key)),
            h("td", {}, String(ev.kv?.modRevision ?? 0n)), h("td", { class: "mono" }, text(ev.kv?.value)),
            h("td", { class: "mono muted" }, ev.prevKv ? text(ev.prevKv.value) : "")));
        }
        while (rows.childElementCount > KEEP) rows.lastElementChild!.remove();
      }, (e) => (state.textContent = `ended: ${e.message}`));
      if (mine !== store) {
        handle.cancel();
        return;
      }
      handles.add(handle);
      list.prepend(card);
    } catch (x) {
      err.textContent = `Error: ${(x as Error).message}`;
    }
  }

  root.append(
    h("form", { class: "row", onsubmit: start }, key,
      h("label", {}, prefix, " prefix"), from, h("button", { type: "submit" }, "Watch")),
    err, list);

  return {
    async refresh() {},
    reset() {
      store++;
      for (const w of handles) w.cancel();
      handles.clear();
      list.replaceChildren();
    },
  };
}
