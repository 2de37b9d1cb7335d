// Guided examples: etcd's classic patterns as console commands, run with one click. The
// commands use the console's variables ($LEASE: the lease granted last; $REV: the revision
// the last write made; see help), never a fixed lease ID or revision, so that they work on
// any store, not only a fresh one.
import type { App, Panel } from "../app.js";
import { ask } from "../ask.js";
import { h } from "../dom.js";

export interface Example {
  title: string;
  about: string;
  /** A hint about the tab's clock, shown only with the store in this tab (a server's clock is its own). */
  tabOnly?: string;
  commands: string[];
}

export const examples: Example[] = [
  {
    title: "Keys and revisions",
    about: "Every write makes a new revision of the whole store; get --rev reads the past. $REV is the revision the console's last write made; FIRST=$REV keeps it.",
    commands: ["put /demo/greeting hello", "FIRST=$REV", "put /demo/greeting world", "get /demo/greeting -w json",
      "get /demo/ --prefix", "get /demo/greeting --rev=$FIRST"],
  },
  {
    title: "Compare-and-swap",
    about: "A transaction changes the value only if it is still what we read: the basis of safe updates.",
    commands: ["put /cas/counter 1",
      'txn\nvalue("/cas/counter") = "1"\n\nput /cas/counter 2\n\nget /cas/counter\n',
      'txn\nvalue("/cas/counter") = "1"\n\nput /cas/counter 3\n\nget /cas/counter\n'],
  },
  {
    title: "A lock",
    about: "Whoever creates the lock key first holds the lock; its lease frees it if the holder dies.",
    commands: ["lease grant 30",
      'txn\ncreate("/lock/job") = "0"\n\nput /lock/job holder-1 --lease=$LEASE\n\nget /lock/job\n',
      'txn\ncreate("/lock/job") = "0"\n\nput /lock/job holder-2\n\nget /lock/job\n',
      "lease revoke $LEASE", "get /lock/job"],
  },
  {
    title: "Leader election",
    about: "Candidates race to create the leader key under their lease; the others watch it and try again when it goes.",
    commands: ["watch /election/leader", "lease grant 10",
      'txn\ncreate("/election/leader") = "0"\n\nput /election/leader node-a --lease=$LEASE\n\nget /election/leader\n',
      "lease revoke $LEASE"],
  },
  {
    title: "Service discovery with leases",
    about: "Each instance registers under a lease and keeps it alive; when it stops, its entry disappears by itself.",
    tabOnly: "Press +10 s on the clock twice to see it expire.",
    commands: ["lease grant 15", "put /services/web/10.0.0.1 '{\"addr\": \"10.0.0.1:80\"}' --lease=$LEASE",
      "put /services/web/10.0.0.2 '{\"addr\": \"10.0.0.2:80\"}' --lease=$LEASE", "get /services/web/ --prefix --keys-only",
      "lease timetolive $LEASE --keys"],
  },
  {
    title: "Compaction",
    about: "Compaction forgets history before a revision: reads of the past fail with etcd's error; the latest values stay.",
    commands: ["put /old/value v1", "OLD=$REV", "put /old/value v2", "compaction $REV", "get /old/value --rev=$OLD",
      "get /old/value"],
  },
];

const compacts = (ex: Example) => ex.commands.some((c) => /^compaction\b/.test(c));

/**
 * On a server, an example that compacts forgets history every client of it sees: the page
 * asks first (in the tab, the store is the page's own).
 */
function allowed(app: App, ex: Example): Promise<boolean> {
  if (app.api.mode !== "server" || !compacts(ex)) return Promise.resolve(true);
  return ask(`"${ex.title}" compacts ${app.api.endpoint}: the server forgets its history before the example's last put, ` +
    "for every client. Run it?", "Compact the server");
}

export function examplesPanel(app: App, root: HTMLElement): Panel {
  const run = async (ex: Example, button: HTMLButtonElement) => {
    button.disabled = true;
    try {
      if (!(await allowed(app, ex))) return;
      app.interrupt(); // an earlier example's watch would interleave
      for (const c of ex.commands) await app.run(c, true); // on a server, asked above
      button.dataset.runs = String(Number(button.dataset.runs ?? 0) + 1);
    } finally {
      button.disabled = false;
    }
  };
  root.append(h("ul", { class: "examples" }, ...examples.map((ex) => h("li", { class: "card" },
    h("h3", {}, ex.title), h("p", {}, ex.about, ex.tabOnly && h("span", { class: "tab-only" }, ` ${ex.tabOnly}`)),
    h("pre", { class: "mono" }, ex.commands.map((c) => c.replaceAll("\n", "\n  ")).join("\n")),
    h("button", { type: "button", onclick: (e: Event) => void run(ex, e.currentTarget as HTMLButtonElement) }, "Run in the console")))));
  return { async refresh() {} };
}
