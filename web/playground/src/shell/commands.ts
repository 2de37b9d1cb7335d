// The etcdctl commands this console runs, with etcdctl's flags, checks, calls and output.
// Each command's run gets its parsed arguments and an Env from the shell.
import type { WatchResponse } from "../../../client/src/gen/etcd/api/etcdserverpb/rpc_pb.js";
import type { Api, Credentials } from "../api.js";
import type { FlagSpec, FlagValue } from "./args.js";
import { GoError, errorMessage, goDuration, hex16, parseInt64, utf8 } from "./gofmt.js";
import { DEL_FLAGS, GET_FLAGS, PUT_FLAGS, delRequest, getRequest, prefixEnd, putRequest } from "./kv.js";
import { FORMATS, Printer, type EpHashKV, type EpHealth, type EpStatus, type Format, type Sink } from "./print.js";
import { TxnReader } from "./txn.js";
import { auth, role, user } from "./auth.js";
import { member, moveLeader } from "./member.js";

export const VERSION = "3.6.16";
export const API_VERSION = "3.6";

/** What a command may use of the shell. */
export interface Env {
  readonly api: Api;
  /** The user a command without --user runs as (the page's sign-in, as etcdctl's ETCDCTL_USER). */
  readonly credentials?: Credentials;
  /** This command's output (flushed when it returns). */
  readonly out: Sink;
  /** A sink for output that comes later, from a background task; flush() after each burst. */
  background(): Sink & { flush(): void };
  /** Waits, unless interrupted; resolves false if it was. */
  sleep(ms: number): Promise<boolean>;
  /** Registers a background task (watch, keep-alive); the shell calls stop() on interrupt. */
  startTask(stop: () => void): { end(): void };
  /** Switches the console to reading a txn, committed through api and printed with printer when done. */
  beginTxn(reader: TxnReader, printer: Printer, api: Api): void;
  /** The console's variables ($LEASE, $REV, and those set with NAME=VALUE), for help. */
  readonly vars: ReadonlyMap<string, string>;
  /** Sets a variable a later command may use as $name. */
  setVar(name: "LEASE" | "REV", value: string): void;
  /**
   * Asks before what cannot be undone for others (yes: the button that goes on); true to go
   * on. True at once when the shell has no one to ask or the input was agreed to already.
   */
  confirm(question: string, yes: string): Promise<boolean>;
}

export interface Call {
  env: Env;
  args: string[];
  /** The words after the command's name, as typed (watch looks for "--"). */
  raw: string[];
  flags: Record<string, FlagValue>;
  /**
   * etcdctl's mustClientFromCmd: checks the credentials (--user) and --write-out, then gives
   * the client, logged in if --user (or else the Env's credentials) says so (a failed login
   * rejects, as clientv3.New fails). With several endpoints it talks to the first (etcdctl's
   * client balances over them all).
   */
  client(): Promise<Api>;
  /**
   * etcdctl's endpoints: --endpoints as given (each trimmed), or without it the console's
   * current endpoint (etcdctl's default, 127.0.0.1:2379, would mean nothing in a page).
   */
  endpoints(): string[];
  /** client(), at one endpoint: one of endpoints(), or a member's client URL (--cluster). */
  clientAt(endpoint: string): Promise<Api>;
  /** The printer for --write-out/--hex (after client()). */
  printer(): Printer;
}

export interface Command {
  name: string;
  use: string;
  short: string;
  long?: string;
  flags?: FlagSpec[];
  /** Flags this command gives its subcommands too. */
  persistent?: FlagSpec[];
  sub?: Command[];
  run?: (c: Call) => Promise<void> | void;
  /** An etcdctl command this console does not have. */
  missing?: boolean;
}

const bool = (name: string, usage: string, short?: string): FlagSpec => ({ name, short, type: "bool", def: false, usage });
const str = (name: string, def: string, usage: string, short?: string): FlagSpec => ({ name, short, type: "string", def, usage });
const int = (name: string, usage: string): FlagSpec => ({ name, type: "int64", def: 0n, usage });
const dur = (name: string, def: string, usage: string): FlagSpec => ({ name, type: "duration", def, usage });

/**
 * etcdctl's global flags: -w, --hex, --endpoints, --user and --password act; the connection
 * ones are accepted (and their values checked as etcdctl checks them) but ignored.
 */
export const GLOBAL_FLAGS: FlagSpec[] = [
  str("write-out", "simple", "set the output format (fields, json, protobuf, simple, table)", "w"),
  bool("hex", "print byte strings as hex encoded strings"),
  { name: "endpoints", type: "strings", def: [], usage: "gRPC endpoints (without it: the playground's current endpoint)" },
  bool("debug", "(ignored here)"),
  dur("dial-timeout", "2s", "(ignored here)"),
  dur("command-timeout", "5s", "(ignored here)"),
  dur("keepalive-time", "2s", "(ignored here)"),
  dur("keepalive-timeout", "6s", "(ignored here)"),
  int("max-request-bytes", "(ignored here)"),
  int("max-recv-bytes", "(ignored here)"),
  { ...bool("insecure-transport", "(ignored here)"), def: true },
  { ...bool("insecure-discovery", "(ignored here)"), def: true },
  bool("insecure-skip-tls-verify", "(ignored here)"),
  str("cert", "", "(ignored here)"),
  str("key", "", "(ignored here)"),
  str("cacert", "", "(ignored here)"),
  str("user", "", "username[:password] for authentication (this console cannot prompt for a missing password)"),
  str("password", "", "password for authentication (if this option is used, --user option shouldn't include password)"),
  str("discovery-srv", "", "(ignored here)", "d"),
  str("discovery-srv-name", "", "(ignored here)"),
];

export function isFormat(s: string): s is Format {
  return (FORMATS as readonly string[]).includes(s);
}

const msg = errorMessage;

/**
 * $REV: the revision a write left the store at (its response header's), so that a later
 * command can read or compact at it whatever the store's history (a fixed --rev=2 only fits
 * a fresh store).
 */
export function rememberRevision(setVar: (name: "REV", value: string) => void, header: { revision: bigint } | undefined): void {
  if (header) setVar("REV", String(header.revision));
}

function leaseFromArg(arg: string): bigint {
  try {
    return parseInt64(arg, 16);
  } catch (e) {
    throw new GoError(`bad lease ID arg (${msg(e)}), expecting ID in Hex`);
  }
}

// ---- KV ----

const get: Command = {
  name: "get", use: "get [options] <key> [range_end]", short: "Gets the key or a range of keys", flags: GET_FLAGS,
  async run(c) {
    const req = getRequest(c.args, c.flags);
    const resp = await (await c.client()).range(req);
    const p = c.printer();
    if (c.flags["count-only"] && p.format !== "fields") throw new GoError("--count-only is only for `--write-out=fields`");
    if (c.flags["print-value-only"]) {
      if (p.format !== "simple") throw new GoError("print-value-only is only for `--write-out=simple`");
      p.valueOnly = true;
    }
    p.get(resp);
  },
};

const put: Command = {
  name: "put", use: "put [options] <key> <value>", short: "Puts the given key into the store", flags: PUT_FLAGS,
  long: `Puts the given key into the store.

When <value> begins with '-', <value> is interpreted as a flag.
Insert '--' for workaround:

$ put <key> -- <value>
$ put -- <key> <value>

(There is no standard input here: give <value> as an argument, or use --ignore-value.)`,
  async run(c) {
    const req = putRequest(c.args, c.flags);
    const resp = await (await c.client()).put(req);
    rememberRevision(c.env.setVar, resp.header);
    c.printer().put(resp);
  },
};

const del: Command = {
  name: "del", use: "del [options] <key> [range_end]", short: "Removes the specified key or range of keys [key, range_end)",
  flags: DEL_FLAGS,
  async run(c) {
    const { req, warning } = delRequest(c.args, c.flags);
    if (warning) {
      c.env.out.err(warning);
      if (!(await c.env.sleep(2000))) return;
    }
    const resp = await (await c.client()).deleteRange(req);
    rememberRevision(c.env.setVar, resp.header);
    c.printer().del(resp);
  },
};

const txn: Command = {
  name: "txn", use: "txn [options]", short: "Txn processes all the requests in one transaction",
  flags: [bool("interactive", "Input transaction in interactive mode", "i")],
  long: `Txn reads multiple etcd requests and applies them as a single atomic transaction.

A transaction consists of three components:
1) a list of conditions,
2) a list of requests to apply if all the conditions are true,
3) a list of requests to apply if any condition is false.

Each list ends with an empty line. Example:

txn
# compares:
mod("key1") > "0"

# success requests (get, put, del):
put key1 "overwrote-key1"

# failure requests (get, put, del):
put key1 "created-key1"
put key2 "some extra key"

Compares: value("k") = "v", version("k") != "1", create("k") < "5", mod("k") > "0", lease("k") = "<hex id>"
(operators =, !=, <, >; targets may be abbreviated val, ver, c, m).`,
  async run(c) {
    if (c.args.length !== 0) throw new GoError("txn command does not accept argument");
    const api = await c.client();
    c.env.beginTxn(new TxnReader(), c.printer(), api);
  },
};

const compaction: Command = {
  name: "compaction", use: "compaction [options] <revision>", short: "Compacts the event history in etcd",
  flags: [bool("physical", "'true' to wait for compaction to physically remove all old revisions")],
  async run(c) {
    if (c.args.length !== 1) throw new GoError("compaction command needs 1 argument");
    const rev = parseInt64(c.args[0], 10);
    const api = await c.client();
    // etcdctl does not ask. But a server's history is every client's, and someone trying
    // the console may not know that it goes for all of them: a declined one does nothing.
    const question = `Compact ${api.endpoint} at revision ${rev}? The server forgets its history before it, for every client.`;
    if (api.mode === "server" && !(await c.env.confirm(question, "Compact the server"))) return;
    await api.compact(rev, c.flags.physical as boolean);
    c.env.out.line(`compacted revision ${rev}`);
  },
};

// ---- watch ----

const watch: Command = {
  name: "watch", use: "watch [options] [key or prefix] [range_end]", short: "Watches events stream on keys or prefixes",
  flags: [
    bool("interactive", "Interactive mode", "i"),
    bool("prefix", "Watch on a prefix if prefix is set"),
    int("rev", "Revision to start watching"),
    bool("prev-kv", "get the previous key-value pair before the event happens"),
    bool("progress-notify", "get periodic watch progress notification from server"),
  ],
  long: "Prints the events as they come, in the background, until Ctrl+C (or its Stop button, under the output).",
  async run(c) {
    if (c.flags.interactive) throw new GoError("interactive watch (-i) is not supported here; run several watch commands instead");
    // parseWatchArgs: only a "watch" with nothing at all after it fails before the client is made.
    const sep = c.raw.indexOf("--");
    if (sep >= 0 && sep === c.raw.length - 1) throw new GoError("bad number of arguments (found separator --, but no commands)");
    if (sep < 0 && c.raw.length === 0) throw new GoError("bad number of arguments");
    if (sep >= 0) throw new GoError("watch cannot run commands (-- <command>) here");
    // mustClientFromCmd (which checks --write-out), then getWatchChan's checks.
    const api = await c.client();
    if (c.args.length < 1) throw new GoError("bad number of arguments");
    const prefix = c.flags.prefix as boolean;
    if (c.args.length === 2 && prefix) throw new GoError("`range_end` and `--prefix` are mutually exclusive");
    let key = utf8(c.args[0]);
    let rangeEnd = c.args.length === 2 ? utf8(c.args[1]) : new Uint8Array();
    if (prefix) {
      if (key.length === 0) (key = new Uint8Array([0])), (rangeEnd = new Uint8Array([0]));
      else rangeEnd = prefixEnd(key);
    }
    const p0 = c.printer();
    const bg = c.env.background();
    const p = new Printer(bg, p0.format, p0.isHex);
    let done = false;
    let handle: { cancel(): void } | undefined;
    const task = c.env.startTask(() => {
      done = true;
      handle?.cancel();
    });
    const finish = (lines: () => void) => {
      if (done) return;
      done = true;
      handle?.cancel();
      lines();
      bg.flush();
      task.end();
    };
    // Prints a response; false if the format cannot (etcdctl exits with the error).
    const show = (w: WatchResponse): boolean => {
      try {
        p.watch(w);
        return true;
      } catch (e) {
        finish(() => bg.err(`Error: ${msg(e)}`));
        return false;
      }
    };
    const canceled = (why: string, w?: WatchResponse) => {
      if (done) return;
      bg.err(`watch was canceled (${why})`);
      if (w && !show(w)) return;
      finish(() => bg.err("Error: watch is canceled by the server"));
    };
    try {
      handle = await api.watch(
        { key, rangeEnd, startRevision: c.flags.rev as bigint, prevKv: c.flags["prev-kv"] as boolean,
          progressNotify: c.flags["progress-notify"] as boolean },
        (w) => {
          if (done) return;
          if (w.canceled) {
            const why = w.compactRevision !== 0n ? "etcdserver: mvcc: required revision has been compacted"
              : w.cancelReason || "etcdserver: mvcc: required revision is a future revision";
            return canceled(why, w);
          }
          if (w.created && w.events.length === 0) return; // clientv3 does not pass this on
          const progress = w.events.length === 0 && w.compactRevision === 0n && (w.header?.revision ?? 0n) !== 0n;
          if (progress) bg.line(`progress notify: ${w.header!.revision}`);
          if (show(w)) bg.flush();
        },
        (err) => finish(() => bg.err(`Error: ${err.message}`)),
      );
      if (done) handle.cancel();
    } catch (e) {
      canceled(msg(e));
    }
  },
};

// ---- lease ----

const lease: Command = {
  name: "lease", use: "lease <subcommand>", short: "Lease related commands",
  sub: [
    {
      name: "grant", use: "grant <ttl>", short: "Creates leases",
      async run(c) {
        if (c.args.length !== 1) throw new GoError("lease grant command needs TTL argument");
        let ttl: bigint;
        try {
          ttl = parseInt64(c.args[0], 10);
        } catch (e) {
          throw new GoError(`bad TTL (${msg(e)})`);
        }
        const api = await c.client();
        let resp;
        try {
          resp = await api.leaseGrant(ttl);
        } catch (e) {
          throw new GoError(`failed to grant lease (${msg(e)})`);
        }
        c.env.setVar("LEASE", hex16(resp.ID));
        c.printer().grant(resp);
      },
    },
    {
      name: "keep-alive", use: "keep-alive [options] <leaseID>", short: "Keeps leases alive (renew)",
      long: "Renews the lease in the background (every TTL/3 seconds, printing each renewal) until Ctrl+C (or its Stop button, under the output).",
      flags: [bool("once", "Resets the keep-alive time to its original value and cobrautl.Exits immediately")],
      async run(c) {
        if (c.args.length !== 1) throw new GoError("lease keep-alive command needs lease ID as argument");
        const id = leaseFromArg(c.args[0]);
        const api = await c.client();
        const p0 = c.printer();
        if (c.flags.once) {
          const r = await api.leaseKeepAlive(id);
          if (r.TTL <= 0n) throw new GoError("etcdserver: requested lease not found");
          return p0.keepAlive(r);
        }
        const bg = c.env.background();
        const p = new Printer(bg, p0.format, p0.isHex);
        let stopped = false;
        let timer: ReturnType<typeof setTimeout> | undefined;
        const task = c.env.startTask(() => {
          stopped = true;
          clearTimeout(timer);
        });
        const end = () => {
          stopped = true;
          bg.flush();
          task.end();
        };
        const tick = async () => {
          if (stopped) return;
          let r;
          try {
            r = await api.leaseKeepAlive(id);
          } catch (e) {
            if (!stopped) {
              bg.err(`Error: ${msg(e)}`);
              end();
            }
            return;
          }
          if (stopped) return;
          if (r.TTL <= 0n) {
            if (p.format === "simple") bg.line(`lease ${hex16(id)} expired or revoked.`);
            return end();
          }
          try {
            p.keepAlive(r);
          } catch (e) {
            bg.err(`Error: ${msg(e)}`);
            return end();
          }
          bg.flush();
          timer = setTimeout(tick, Math.max((Number(r.TTL) * 1000) / 3, 500));
        };
        // The first renewal is printed before the prompt comes back (etcdctl prints it at
        // once; for a lease that is gone, its "expired or revoked" line is all it prints).
        await tick();
      },
    },
    {
      name: "list", use: "list", short: "List all active leases",
      async run(c) {
        const resp = await (await c.client()).leaseLeases();
        c.printer().leases(resp);
      },
    },
    {
      name: "revoke", use: "revoke <leaseID>", short: "Revokes leases",
      async run(c) {
        if (c.args.length !== 1) throw new GoError("lease revoke command needs 1 argument");
        const id = leaseFromArg(c.args[0]);
        const api = await c.client();
        let resp;
        try {
          resp = await api.leaseRevoke(id);
        } catch (e) {
          throw new GoError(`failed to revoke lease (${msg(e)})`);
        }
        c.printer().revoke(id, resp);
      },
    },
    {
      name: "timetolive", use: "timetolive <leaseID> [options]", short: "Get lease information",
      flags: [bool("keys", "Get keys attached to this lease")],
      async run(c) {
        if (c.args.length !== 1) throw new GoError("lease timetolive command needs lease ID as argument");
        const api = await c.client();
        const keys = c.flags.keys as boolean;
        const resp = await api.leaseTimeToLive(leaseFromArg(c.args[0]), keys);
        c.printer().timeToLive(resp, keys);
      },
    },
  ],
};

// ---- endpoint ----

const endpoint: Command = {
  name: "endpoint", use: "endpoint <subcommand>", short: "Endpoint related commands",
  persistent: [bool("cluster", "use all endpoints from the cluster member list")],
  sub: [
    {
      name: "hashkv", use: "hashkv", short: "Prints the KV history hash for each endpoint in --endpoints",
      flags: [int("rev", "maximum revision to hash (default: latest revision)")],
      async run(c) {
        const list: EpHashKV[] = [];
        let failed: unknown;
        for (const ep of await endpointsOf(c)) {
          const api = await c.clientAt(ep);
          try {
            list.push({ ep, resp: await api.hashKV(c.flags.rev as bigint) });
          } catch (e) {
            // etcdctl goes on with the next endpoint, prints what it has, then fails with
            // the last error.
            failed = e;
            c.env.out.err(`Failed to get the hash of endpoint ${ep} (${msg(e)})`);
          }
        }
        c.printer().endpointHashKV(list);
        if (failed !== undefined) throw failed;
      },
    },
    {
      name: "health", use: "health", short: "Checks the healthiness of endpoints specified in `--endpoints` flag",
      async run(c) {
        const p = c.printer();
        const list: EpHealth[] = [];
        // Each endpoint at once; listed as they answer, as etcdctl's are. A client that
        // cannot log in there is an unhealthy endpoint.
        await Promise.all((await endpointsOf(c)).map(async (ep) => {
          let api: Api;
          try {
            api = await c.clientAt(ep);
          } catch (e) {
            list.push({ ep, health: false, took: "", error: msg(e) });
            return;
          }
          const h: EpHealth = { ep, health: false, took: "", error: "" };
          const start = performance.now();
          try {
            await api.range({ key: utf8("health") });
            h.health = true;
          } catch (e) {
            // A denied read went through the server all the same.
            if (msg(e) === "etcdserver: permission denied") h.health = true;
            else h.error = msg(e);
          }
          h.took = goDuration(performance.now() - start);
          list.push(h);
        }));
        p.endpointHealth(list);
        if (list.some((h) => h.error)) throw new GoError("unhealthy cluster");
      },
    },
    {
      name: "status", use: "status", short: "Prints out the status of endpoints specified in `--endpoints` flag",
      long: `When --write-out is set to simple, this command prints out comma-separated status lists for each endpoint.
The items in the lists are endpoint, ID, version, db size, is leader, is learner, raft term, raft index, raft applied index, errors.`,
      async run(c) {
        const p = c.printer();
        const list: EpStatus[] = [];
        for (const ep of await endpointsOf(c)) {
          const api = await c.clientAt(ep);
          try {
            list.push({ ep, resp: await api.status() });
          } catch (e) {
            // etcdctl goes on with the next endpoint, then exits 1 without another word.
            c.env.out.err(`Failed to get the status of endpoint ${ep} (${msg(e)})`);
          }
        }
        p.endpointStatus(list);
      },
    },
  ],
};

/**
 * etcdctl's endpointsFromCluster: the endpoints, or with --cluster every member's client
 * URLs, from a member list through them.
 */
async function endpointsOf(c: Call): Promise<string[]> {
  if (!c.flags.cluster) return c.endpoints();
  const api = await c.client();
  try {
    return (await api.memberList()).members.flatMap((m) => m.clientURLs);
  } catch (e) {
    throw new GoError(`failed to fetch endpoints from etcd cluster member list: ${msg(e)}`);
  }
}

const version: Command = {
  name: "version", use: "version", short: "Prints the version of etcdctl",
  run(c) {
    c.env.out.line(`etcdctl version: ${VERSION}`);
    c.env.out.line(`API version: ${API_VERSION}`);
  },
};

// etcdctl's other commands: known, so that prefixes and suggestions match etcdctl's, but not here.
const missing = (name: string, short: string): Command => ({ name, use: name, short, missing: true });

/** The root's commands, sorted as cobra lists them. "help" is handled by the dispatcher. */
export const COMMANDS: Command[] = [
  missing("alarm", "Alarm related commands"),
  auth,
  missing("check", "commands for checking properties of the etcd cluster"),
  compaction,
  missing("completion", "Generate completion script"),
  missing("defrag", "Defragments the storage of the etcd members with given endpoints"),
  del,
  missing("downgrade", "Downgrade related commands"),
  missing("elect", "Observes and participates in leader election"),
  endpoint,
  get,
  { name: "help", use: "help [command]", short: "Help about any command" },
  lease,
  missing("lock", "Acquires a named lock"),
  missing("make-mirror", "Makes a mirror at the destination etcd cluster"),
  member,
  moveLeader,
  put,
  role,
  missing("snapshot", "Manages etcd node snapshots"),
  txn,
  user,
  version,
  watch,
];

export const ROOT: Command = {
  name: "etcdctl", use: "etcdctl", short: "A simple command line client for etcd3.", sub: COMMANDS,
};
