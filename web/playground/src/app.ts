// The playground's shared state: the store it talks to (this tab or a server), who the page
// is signed in as there, the console shell, and a change feed the panels refresh from.
import type { RangeResponse, ResponseHeader } from "../../client/src/gen/etcd/api/etcdserverpb/rpc_pb.js";
import type { KeyValue } from "../../client/src/gen/etcd/api/mvccpb/kv_pb.js";
import { Permission_Type } from "../../client/src/gen/etcd/api/authpb/auth_pb.js";
import { MetaStoreError, type Api, type Credentials } from "./api.js";
import { ALL, hex } from "./dom.js";
import { rememberRevision } from "./shell/commands.js";
import type { Shell } from "./shell/index.js";

/** Keys from key to rangeEnd, as etcd gives a range (no rangeEnd: the one key). */
export interface KeyRange {
  key: Uint8Array;
  rangeEnd?: Uint8Array;
}

/**
 * A user signed in to a server: the panels and the status line read as it, and the console's
 * commands run as it unless they say --user. The password is kept in memory only.
 */
export interface Session {
  creds: Credentials;
  /** The keys the user may read, which the panels show and follow (every key: [ALL]). */
  scope: KeyRange[];
}

/**
 * The keys a user may read: every key if it may read them all (an administrator, or auth is
 * off), else the ranges its roles may read (a user may get itself and its roles).
 */
export async function readable(api: Api, user: string): Promise<KeyRange[]> {
  try {
    await api.range({ ...ALL, countOnly: true });
    return [ALL];
  } catch (e) {
    if (!(e instanceof MetaStoreError && e.message === "etcdserver: permission denied")) throw e;
  }
  const scope: KeyRange[] = [];
  for (const role of (await api.userGet(user)).roles) {
    for (const p of (await api.roleGet(role)).perm) {
      if (p.permType !== Permission_Type.WRITE) scope.push({ key: p.key, rangeEnd: p.rangeEnd.length ? p.rangeEnd : undefined });
    }
  }
  return scope;
}

/** A word as the console (and sh) reads it back: bare if plain, else in single quotes. */
export function shellWord(w: string): string {
  if (/^[\w./:@%+=,-]+$/.test(w)) return w;
  return `'${w.replaceAll("'", "'\\''")}'`;
}

/**
 * The etcdctl command line for cmd ("put", "lease grant") with args and flags ("--lease=…"),
 * each argument quoted as needed; an argument that starts with "-" comes after "--", so that
 * it is not read as a flag.
 */
export function etcdctl(cmd: string, args: string[], flags: string[] = []): string {
  const words = args.map(shellWord);
  return [cmd, ...(args.some((a) => a.startsWith("-")) ? [...flags, "--", ...words] : [...words, ...flags])].join(" ");
}

const compare = (a: Uint8Array, b: Uint8Array): number => {
  for (let i = 0; i < a.length && i < b.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
};

/** A view on the right: refresh() redraws it from the store (only while it is in view); reset() drops what belonged to the old store. */
export interface Panel {
  refresh(): Promise<void>;
  reset?(): void;
}

export class App {
  /** The store's revision as last seen. */
  revision = 0n;
  /** Why the store did not answer the last refresh, if it did not. */
  error = "";
  /** Who the page is signed in as, on a server. */
  session?: Session;
  private readonly panels: { panel: Panel; root: HTMLElement }[] = [];
  private running: Promise<void> | undefined;
  private readonly listeners = new Set<(text: string) => void>();
  private again = false;

  constructor(public api: Api, readonly shell: Shell, private readonly echo: (line: string) => void,
    private readonly onChanged: () => void, private readonly onPrompt: () => void,
    private readonly log: (text: string, kind: "in" | "out" | "err") => void) {}

  /** Adds a panel shown in root; only panels in view are refreshed (call changed() when one comes into view). */
  add(panel: Panel, root: HTMLElement): void {
    this.panels.push({ panel, root });
  }

  /**
   * Something may have changed: refresh every panel. Calls during a refresh coalesce into one
   * more round; the returned promise settles when the views show the store as of this call.
   */
  changed(): Promise<void> {
    if (this.running) {
      this.again = true;
      this.busy(this.shown(), true);
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          const shown = this.shown();
          this.busy(shown, true);
          try {
            this.revision = (await this.api.status()).header?.revision ?? this.revision;
            this.error = "";
          } catch (e) {
            this.error = (e as Error).message; // a server gone: the status line says so
          }
          await Promise.all(shown.map((p) => p.panel.refresh().catch((e) => console.warn("panel refresh", e))));
          // The last round clears them all (one marked since and hidden again too).
          this.busy(this.again ? shown : this.panels, false);
          this.onChanged();
        } while (this.again);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  private shown() {
    return this.panels.filter((p) => !p.root.hidden);
  }

  /**
   * Marks panels as being redrawn (aria-busy): their content, and so the place of what is
   * below it, may still move. Assistive technology waits for it; so do the browser tests
   * before they click in a panel.
   */
  private busy(panels: { root: HTMLElement }[], on: boolean): void {
    for (const p of panels) {
      if (on) p.root.setAttribute("aria-busy", "true");
      else p.root.removeAttribute("aria-busy");
    }
  }

  /** Calls f with every block of text the console prints, until the returned function is called. */
  onOutput(f: (text: string) => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  /** The console printed text. */
  printed(text: string): void {
    for (const f of this.listeners) f(text);
  }

  /** Stops what the console runs (a watch, a keep-alive, a txn being typed). */
  interrupt(): void {
    this.shell.interrupt();
    this.onPrompt();
  }

  /** Runs a console command as if typed (echoed with its prompt), then refreshes; asked: see Shell.run. */
  async run(line: string, asked = false): Promise<void> {
    this.echo(line);
    await this.shell.run(line, asked);
    this.onPrompt();
    void this.changed();
  }

  /**
   * Runs a panel's action (f) and shows it in the console as the etcdctl command it equals
   * (cmd), with what etcdctl prints for it (out) or for its failure ("Error: " and fail's
   * text): the panels teach the commands. The action is not run by the console: the panels
   * act as the page, which auth does not restrict in the tab (see api.ts).
   */
  async did<T>(cmd: string, f: () => Promise<T>, out: (r: T) => string, fail = (why: string) => why): Promise<T> {
    for (const [i, l] of cmd.split("\n").entries()) this.log(`${i === 0 ? "$" : ">"} ${l}`, "in");
    try {
      const r = await f();
      this.log(out(r), "out");
      return r;
    } catch (e) {
      this.log(`Error: ${fail((e as Error).message)}`, "err");
      throw e;
    }
  }

  /**
   * A panel's write made a revision: the console's $REV is set to it, as the put or del the
   * panel echoed sets it typed (a panel's action is the console's too).
   */
  wrote(header: ResponseHeader | undefined): void {
    rememberRevision((name, value) => this.shell.vars.set(name, value), header);
  }

  /** A panel granted a lease: the console's $LEASE is set to it, as a typed lease grant sets it. */
  granted(id: bigint): void {
    this.shell.vars.set("LEASE", hex(id));
  }

  /** The keys the panels show and follow: every key, unless the page is signed in as a user who may read fewer. */
  get scope(): KeyRange[] {
    return this.session?.scope ?? [ALL];
  }

  /**
   * The keys in scope (up to limit from each range), in key order, at revision (0: the
   * latest); as one range's answer: count sums the ranges', header is the first one's.
   */
  async read(o: { revision?: bigint; limit?: bigint } = {}): Promise<Pick<RangeResponse, "kvs" | "count" | "more" | "header">> {
    const out: Pick<RangeResponse, "kvs" | "count" | "more" | "header"> = { kvs: [], count: 0n, more: false, header: undefined };
    const seen = new Map<string, KeyValue>();
    let revision = o.revision ?? 0n;
    for (const r of this.scope) {
      const resp = await this.api.range({ ...r, revision, limit: o.limit });
      out.header ??= resp.header;
      if (revision === 0n) revision = resp.header?.revision ?? 0n; // the others at the same revision
      out.count += resp.count;
      out.more ||= resp.more;
      for (const kv of resp.kvs) seen.set(kv.key.join(), kv);
    }
    out.kvs = [...seen.values()].sort((a, b) => compare(a.key, b.key));
    return out;
  }

  /** Switches to another store (as session's user, or without one): panels drop their state, the shell follows. */
  use(api: Api, session?: Session): void {
    this.shell.interrupt();
    this.api = api;
    this.session = session;
    this.shell.api = api;
    this.shell.credentials = session?.creds;
    this.onPrompt();
    for (const p of this.panels) p.panel.reset?.();
    this.revision = 0n;
    this.error = "";
    void this.changed(); // a refresh under way reads the old store: it goes round once more
  }
}
