// The lease panel: every lease with a countdown and its attached keys. When a lease runs
// out, the store revokes it and deletes its keys, and the panel (and the key tree) show it.
import type { App, Panel } from "../app.js";
import { bytes, h, hex, text } from "../dom.js";

interface Shown {
  id: bigint;
  granted: bigint;
  /** Seconds left when last asked, and when that was (performance.now()). */
  ttl: number;
  at: number;
  keys: string[];
}

export function leasesPanel(app: App, root: HTMLElement): Panel {
  const ttl = h("input", { name: "ttl", "aria-label": "TTL in seconds", inputmode: "numeric", value: "30", size: 6 });
  const err = h("p", { class: "err", role: "alert" });
  const list = h("ul", { class: "leases", "aria-label": "leases" });
  const gone = h("p", { class: "muted", "aria-live": "polite" });
  let shown: Shown[] = [];
  let paused = false;

  const fail = (e: unknown) => (err.textContent = `Error: ${(e as Error).message}`);
  const act = (f: () => Promise<unknown>) => async () => {
    err.textContent = "";
    try {
      await f();
      await app.changed();
    } catch (e) {
      fail(e);
    }
  };

  root.append(
    h("form", {
      class: "row", onsubmit: (e: Event) => {
        e.preventDefault();
        void act(() => app.api.leaseGrant(BigInt(ttl.value || "0")))();
      },
    }, h("label", {}, "TTL ", ttl, " s"), h("button", { type: "submit" }, "Grant lease")),
    err, gone, list,
    h("p", { class: "muted" }, "Leases count down on the store's clock: pause it or jump ahead with the clock buttons above (this tab only)."));

  function left(l: Shown): number {
    return paused ? l.ttl : Math.max(0, l.ttl - (performance.now() - l.at) / 1000);
  }

  function render(): void {
    list.replaceChildren(...shown.map((l) => {
      const key = h("input", { "aria-label": `key for lease ${hex(l.id)}`, placeholder: "key", size: 14 });
      const val = h("input", { "aria-label": `value for lease ${hex(l.id)}`, placeholder: "value", size: 10 });
      const secs = left(l);
      return h("li", { class: "card", "data-lease": hex(l.id) },
        h("div", { class: "row" },
          h("strong", { class: "mono" }, hex(l.id)),
          h("span", { class: "countdown", "aria-label": "remaining" }, `${Math.ceil(secs)} s`),
          h("span", { class: "muted" }, `of ${l.granted} s`),
          h("button", { type: "button", onclick: act(() => app.api.leaseKeepAlive(l.id)) }, "Keep alive"),
          h("button", { type: "button", class: "danger", onclick: act(() => app.api.leaseRevoke(l.id)) }, "Revoke")),
        h("progress", { max: Number(l.granted), value: secs, "aria-label": "time left" }),
        h("p", {}, l.keys.length ? `keys: ${l.keys.join(", ")}` : h("span", { class: "muted" }, "no keys attached")),
        h("form", {
          class: "row", onsubmit: (e: Event) => {
            e.preventDefault();
            void act(() => app.api.put({ key: bytes(key.value), value: bytes(val.value), lease: l.id }))();
          },
        }, key, val, h("button", { type: "submit" }, "Attach key")));
    }));
    if (shown.length === 0) list.append(h("li", { class: "muted" }, "No leases."));
  }

  // Countdowns tick locally between refreshes, and a refresh each second catches expiry.
  setInterval(() => {
    for (const [i, li] of [...list.querySelectorAll("li[data-lease]")].entries()) {
      const l = shown[i];
      if (!l) continue;
      const s = left(l);
      li.querySelector(".countdown")!.textContent = `${Math.ceil(s)} s`;
      (li.querySelector("progress") as HTMLProgressElement).value = s;
    }
  }, 250);
  setInterval(() => {
    if (!root.hidden && shown.length > 0) void app.changed();
  }, 1000);

  return {
    async refresh() {
      if (app.api.tab) paused = (await app.api.tab.clock("")).paused;
      const ids = (await app.api.leaseLeases()).leases.map((l) => l.ID);
      const next: Shown[] = [];
      for (const id of ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
        const t = await app.api.leaseTimeToLive(id, true);
        if (t.TTL < 0n) continue;
        next.push({ id, granted: t.grantedTTL, ttl: Number(t.TTL), at: performance.now(), keys: t.keys.map(text) });
      }
      const expired = shown.filter((o) => !next.some((n) => n.id === o.id));
      if (expired.length > 0) {
        gone.textContent = `Gone: ${expired.map((l) => `${hex(l.id)}${l.keys.length ? ` (deleted ${l.keys.join(", ")})` : ""}`).join("; ")}`;
      }
      shown = next;
      const focused = root.contains(document.activeElement) && document.activeElement instanceof HTMLInputElement;
      if (!focused) render(); // do not take the text out from under someone typing
    },
    reset() {
      shown = [];
      gone.textContent = "";
      render();
    },
  };
}
