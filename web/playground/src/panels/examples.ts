// Guided examples: etcd's classic patterns as console commands, run with one click. A
// command may use $LEASE: the lease the example granted last (etcdctl prints its ID).
import type { App, Panel } from "../app.js";
import { h } from "../dom.js";

export interface Example {
  title: string;
  about: string;
  commands: string[];
}

export const examples: Example[] = [
  {
    title: "Keys and revisions",
    about: "Every write makes a new revision of the whole store; get --rev reads the past.",
    commands: ["put /demo/greeting hello", "put /demo/greeting world", "get /demo/greeting -w json",
      "get /demo/ --prefix", "get /demo/greeting --rev=2"],
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
    about: "Each instance registers under a lease and keeps it alive; when it stops, its entry disappears by itself. Press +10 s on the clock twice to see it expire.",
    commands: ["lease grant 15", "put /services/web/10.0.0.1 '{\"addr\": \"10.0.0.1:80\"}' --lease=$LEASE",
      "put /services/web/10.0.0.2 '{\"addr\": \"10.0.0.2:80\"}' --lease=$LEASE", "get /services/web/ --prefix --keys-only",
      "lease timetolive $LEASE --keys"],
  },
  {
    title: "Compaction",
    about: "Compaction forgets history before a revision: reads of the past fail with etcd's error.",
    commands: ["put /old/value v1", "put /old/value v2", "endpoint status", "compaction 2", "get /old/value --rev=1"],
  },
];

export function examplesPanel(app: App, root: HTMLElement): Panel {
  let lease = "";
  // The example runner reads lease IDs from what the console prints.
  const run = async (ex: Example, button: HTMLButtonElement) => {
    button.disabled = true;
    app.interrupt(); // an earlier example's watch would interleave
    try {
      for (const c of ex.commands) {
        const cmd = c.replaceAll("$LEASE", lease);
        const seen = app.onOutput((t) => {
          const m = /^lease ([0-9a-f]{16}) granted/.exec(t);
          if (m) lease = m[1];
        });
        await app.run(cmd);
        seen();
      }
    } finally {
      button.disabled = false;
      button.dataset.runs = String(Number(button.dataset.runs ?? 0) + 1);
    }
  };
  root.append(h("ul", { class: "examples" }, ...examples.map((ex) => h("li", { class: "card" },
    h("h3", {}, ex.title), h("p", {}, ex.about),
    h("pre", { class: "mono" }, ex.commands.map((c) => c.replaceAll("\n", "\n  ")).join("\n")),
    h("button", { type: "button", onclick: (e: Event) => void run(ex, e.currentTarget as HTMLButtonElement) }, "Run in the console")))));
  return { async refresh() {} };
}
