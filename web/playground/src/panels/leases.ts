// The lease panel: every lease with a countdown and its attached keys. When a lease runs
// out, the store revokes it and deletes its keys, and the panel (and the key tree) show it.
// Cards are updated in place, keyed by lease ID, so typing in one or focusing a button
// survives the refresh each second.
import { etcdctl, type App, type Panel } from "../app.js";
import { bytes, h, hex, text } from "../dom.js";

interface Shown {
  id: bigint;
  granted: bigint;
  /** Seconds left when last asked, and when that was (performance.now()). */
  ttl: number;
  at: number;
  keys: string[];
}

interface Card {
  el: HTMLLIElement;
  countdown: HTMLElement;
  bar: HTMLProgressElement;
  keys: HTMLElement;
}

export function leasesPanel(app: App, root: HTMLElement): Panel {
  const ttl = h("input", { name: "ttl", "aria-label": "TTL in seconds", inputmode: "numeric", value: "30", size: 6 });
  const err = h("p", { class: "err", role: "alert" });
  const list = h("ul", { class: "leases", "aria-label": "leases" });
  const none = h("li", { class: "muted" }, "No leases.");
  const gone = h("p", { class: "muted", "aria-live": "polite" });
  let shown: Shown[] = [];
  const cards = new Map<bigint, Card>();
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
        if (!/^\d+$/.test(ttl.value.trim())) return fail(new Error("the TTL is a number of seconds"));
        const t = ttl.value.trim();
        void act(async () => {
          const r = await app.did(etcdctl("lease grant", [t]), () => app.api.leaseGrant(BigInt(t)),
            (r) => `lease ${hex(r.ID)} granted with TTL(${r.TTL}s)`, (why) => `failed to grant lease (${why})`);
          app.granted(r.ID);
        })();
      },
    }, h("label", {}, "TTL ", ttl, " s"), h("button", { type: "submit" }, "Grant lease")),
    err, gone, list,
    // A server's clock is its own: the page cannot pause it or move it.
    h("p", { class: "muted tab-only" }, "Leases count down on the store's clock: pause it or jump ahead with the clock buttons above."));

  // What a lease card's buttons do, as the console shows them (etcdctl's commands and output).
  const keepAlive = (id: bigint) => app.did(etcdctl("lease keep-alive", [hex(id)], ["--once"]), async () => {
    const r = await app.api.leaseKeepAlive(id);
    if (r.TTL <= 0n) throw new Error("etcdserver: requested lease not found"); // gone meanwhile
    return r;
  }, (r) => `lease ${hex(id)} keepalived with TTL(${r.TTL})`);
  const revoke = (id: bigint) => app.did(etcdctl("lease revoke", [hex(id)]), () => app.api.leaseRevoke(id),
    () => `lease ${hex(id)} revoked`, (why) => `failed to revoke lease (${why})`);
  const attach = (id: bigint, key: string, value: string) => app.did(etcdctl("put", [key, value], [`--lease=${hex(id)}`]),
    () => app.api.put({ key: bytes(key), value: bytes(value), lease: id }), () => "OK");

  function left(l: Shown): number {
    return paused ? l.ttl : Math.max(0, l.ttl - (performance.now() - l.at) / 1000);
  }

  function card(l: Shown): Card {
    const key = h("input", { "aria-label": `key for lease ${hex(l.id)}`, placeholder: "key", size: 14 });
    const val = h("input", { "aria-label": `value for lease ${hex(l.id)}`, placeholder: "value", size: 10 });
    const countdown = h("span", { class: "countdown", title: "seconds left" });
    const bar = h("progress", { max: Number(l.granted), "aria-label": `time left on lease ${hex(l.id)}` }) as HTMLProgressElement;
    const keys = h("p");
    const el = h("li", { class: "card", "data-lease": hex(l.id) },
      h("div", { class: "row" },
        h("strong", { class: "mono" }, hex(l.id)), countdown, h("span", { class: "muted" }, `of ${l.granted} s`),
        h("button", { type: "button", onclick: act(() => keepAlive(l.id)) }, "Keep alive"),
        h("button", { type: "button", class: "danger", onclick: act(() => revoke(l.id)) }, "Revoke")),
      bar, keys,
      h("form", {
        class: "row", onsubmit: (e: Event) => {
          e.preventDefault();
          void act(async () => app.wrote((await attach(l.id, key.value, val.value)).header))();
        },
      }, key, val, h("button", { type: "submit" }, "Attach key")));
    return { el, countdown, bar, keys };
  }

  function tick(): void {
    for (const l of shown) {
      const c = cards.get(l.id);
      if (!c) continue;
      const s = left(l);
      const t = `${Math.ceil(s)} s`;
      if (c.countdown.textContent !== t) c.countdown.textContent = t;
      c.bar.value = s;
    }
  }

  function render(): void {
    for (const [id, c] of cards) {
      if (!shown.some((l) => l.id === id)) {
        c.el.remove();
        cards.delete(id);
      }
    }
    if (shown.length === 0) list.append(none);
    else none.remove();
    for (const [i, l] of shown.entries()) {
      let c = cards.get(l.id);
      if (!c) cards.set(l.id, (c = card(l)));
      const k = l.keys.length ? `keys: ${l.keys.join(", ")}` : "no keys attached";
      if (c.keys.textContent !== k) c.keys.textContent = k;
      c.keys.className = l.keys.length ? "" : "muted";
      // In ID order; a card already in place is not touched (moving it would drop focus).
      if (list.children[i] !== c.el) list.insertBefore(c.el, list.children[i] ?? null);
    }
    tick();
  }

  async function load(): Promise<void> {
    paused = app.api.tab ? (await app.api.tab.clock("")).paused : false;
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
    render();
  }

  // Countdowns tick locally; while the panel is in view it asks the store each second, which
  // catches leases expiring (those with keys also show up through the change feed).
  setInterval(tick, 250);
  setInterval(() => {
    if (!root.hidden && shown.length > 0) void load().catch(() => {});
  }, 1000);

  return {
    refresh: load,
    reset() {
      shown = [];
      gone.textContent = "";
      render();
    },
  };
}
