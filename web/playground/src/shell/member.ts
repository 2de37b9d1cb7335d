// etcdctl's member and move-leader commands (member_command.go, move_leader_command.go): the
// same arguments, checks, calls and output. They need a cluster member behind the Api: the
// store in the tab is none (its Api says so); a server, or a member of a cluster in the tab, is.
import {
  MemberAddResponseSchema, MemberPromoteResponseSchema, MemberRemoveResponseSchema, MemberUpdateResponseSchema,
} from "../../../client/src/gen/etcd/api/etcdserverpb/rpc_pb.js";
import type { Api } from "../api.js";
import type { FlagSpec } from "./args.js";
import type { Command } from "./commands.js";
import { GoError, errorMessage, goQuote, parseUint64 } from "./gofmt.js";
import { hexWide } from "./print.js";

const bool = (name: string, usage: string): FlagSpec => ({ name, type: "bool", def: false, usage });
const str = (name: string, def: string, usage: string): FlagSpec => ({ name, type: "string", def, usage });

/** The one argument, a member ID in hex. */
function memberID(args: string[]): bigint {
  if (args.length !== 1) throw new GoError("member ID is not provided");
  try {
    return parseUint64(args[0], 16);
  } catch (e) {
    throw new GoError(`bad member ID arg (${errorMessage(e)}), expecting ID in Hex`);
  }
}

/** --peer-urls, split at commas as etcdctl splits it (not checked yet: clientv3 does that). */
function peerURLs(flags: Record<string, unknown>): string[] {
  const v = flags["peer-urls"] as string;
  if (v === "") throw new GoError("member peer urls not provided");
  return v.split(",");
}

/**
 * Go's net.SplitHostPort succeeding: host:port, [v6]:port (an empty port is one), no other
 * colon or bracket.
 */
function splitsHostPort(h: string): boolean {
  if (h.startsWith("[")) {
    const end = h.indexOf("]");
    return end > 0 && h[end + 1] === ":" && !h.slice(end + 2).includes(":") && !/[[\]]/.test(h.slice(end + 1));
  }
  const colons = h.split(":").length - 1;
  return colons === 1 && !/[[\]]/.test(h);
}

/**
 * clientv3's check of peer URLs before member add and update (types.NewURLs): a scheme etcd
 * speaks, host:port, no path. Of Go's url.Parse errors, those a typed URL is likely to meet
 * (a colon before any scheme, a port that is no number, a control character) are given as Go
 * words them.
 */
function checkPeerURLs(urls: string[]): void {
  for (const raw of urls) {
    const s = raw.trim();
    const bad = (why: string) => new GoError(`parse ${goQuote(s)}: ${why}`);
    if (/[\x00-\x1f\x7f]/.test(s)) throw bad("net/url: invalid control character in URL");
    const noFragment = s.split("#")[0];
    // getScheme: letters, then digits + - . after the first, up to a colon.
    const m = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(noFragment);
    if (noFragment.startsWith(":")) throw bad("missing protocol scheme");
    const scheme = m ? m[1].toLowerCase() : "";
    const rest = (m ? noFragment.slice(m[0].length) : noFragment).split("?")[0];
    if (!m && !rest.startsWith("/") && rest.split("/")[0].includes(":")) {
      throw bad("first path segment in URL cannot contain colon");
    }
    let host = "";
    let path = m && !rest.startsWith("/") ? "" : rest; // scheme:opaque has neither host nor path
    if (rest.startsWith("//")) {
      const slash = rest.indexOf("/", 2);
      const authority = slash < 0 ? rest.slice(2) : rest.slice(2, slash);
      path = slash < 0 ? "" : rest.slice(slash);
      host = authority.slice(authority.lastIndexOf("@") + 1);
      const close = host.startsWith("[") ? host.indexOf("]") : -1;
      const colon = host.lastIndexOf(":");
      if (colon > close && !/^:\d*$/.test(host.slice(colon))) throw bad(`invalid port ${goQuote(host.slice(colon))} after host`);
    }
    switch (scheme) {
      case "http":
      case "https":
        if (!splitsHostPort(host)) throw new GoError(`URL address does not have the form "host:port": ${s}`);
        if (path !== "") throw new GoError(`URL must not contain a path: ${s}`);
        break;
      case "unix":
      case "unixs":
        break;
      default:
        throw new GoError(`URL scheme must be http, https, unix, or unixs: ${s}`);
    }
  }
}

const add: Command = {
  name: "add", use: "add <memberName> [options]", short: "Adds a member into the cluster",
  flags: [
    str("peer-urls", "", "comma separated peer URLs for the new member."),
    bool("learner", "indicates if the new member is raft learner"),
  ],
  async run(c) {
    if (c.args.length < 1) throw new GoError("member name not provided");
    if (c.args.length > 1) {
      let ev = "too many arguments";
      for (const s of c.args) if (s.toLowerCase().startsWith("http")) ev += `, did you mean --peer-urls=${s}`;
      throw new GoError(ev);
    }
    const name = c.args[0];
    const urls = peerURLs(c.flags);
    const api = await c.client();
    checkPeerURLs(urls);
    const resp = await api.memberAdd(urls, c.flags.learner as boolean);
    const id = resp.member?.ID ?? 0n;
    const p = c.printer();
    const as = resp.member?.isLearner ? " as learner " : " ";
    p.memberChanged(MemberAddResponseSchema, resp, `Member ${hexWide(id)} added${as}to cluster ${hexWide(resp.header?.clusterId ?? 0n)}`);
    if (p.format !== "simple") return;
    // What the new member is to be started with (its name is not the cluster's yet).
    const conf = resp.members.flatMap((m) => m.peerURLs.map((u) => `${m.ID === id ? name : m.name}=${u}`));
    const o = c.env.out;
    o.line("");
    o.line(`ETCD_NAME=${goQuote(name)}`);
    o.line(`ETCD_INITIAL_CLUSTER=${goQuote(conf.join(","))}`);
    o.line(`ETCD_INITIAL_ADVERTISE_PEER_URLS=${goQuote(c.flags["peer-urls"] as string)}`);
    o.line(`ETCD_INITIAL_CLUSTER_STATE="existing"`);
  },
};

const list: Command = {
  name: "list", use: "list", short: "Lists all members in the cluster",
  long: `When --write-out is set to simple, this command prints out comma-separated member lists for each endpoint.
The items in the lists are ID, Status, Name, Peer Addrs, Client Addrs, Is Learner.`,
  flags: [str("consistency", "l", "Linearizable(l) or Serializable(s)")],
  async run(c) {
    const consistency = c.flags.consistency as string;
    // etcdctl's IsSerializable names the get command's --consistency, never set here: "l".
    if (consistency !== "l" && consistency !== "s") throw new GoError(`unknown consistency flag "l"`);
    const resp = await (await c.client()).memberList(consistency === "l");
    c.printer().memberList(resp);
  },
};

const promote: Command = {
  name: "promote", use: "promote <memberID>", short: "Promotes a non-voting member in the cluster",
  long: "Promotes a non-voting learner member to a voting one in the cluster.",
  async run(c) {
    const id = memberID(c.args);
    const resp = await (await c.client()).memberPromote(id);
    c.printer().memberChanged(MemberPromoteResponseSchema, resp,
      `Member ${hexWide(id)} promoted in cluster ${hexWide(resp.header?.clusterId ?? 0n)}`);
  },
};

const remove: Command = {
  name: "remove", use: "remove <memberID>", short: "Removes a member from the cluster",
  async run(c) {
    const id = memberID(c.args);
    const resp = await (await c.client()).memberRemove(id);
    c.printer().memberChanged(MemberRemoveResponseSchema, resp,
      `Member ${hexWide(id)} removed from cluster ${hexWide(resp.header?.clusterId ?? 0n)}`);
  },
};

const update: Command = {
  name: "update", use: "update <memberID> [options]", short: "Updates a member in the cluster",
  flags: [str("peer-urls", "", "comma separated peer URLs for the updated member.")],
  async run(c) {
    const id = memberID(c.args);
    const urls = peerURLs(c.flags);
    const api = await c.client();
    checkPeerURLs(urls);
    const resp = await api.memberUpdate(id, urls);
    c.printer().memberChanged(MemberUpdateResponseSchema, resp,
      `Member ${hexWide(id)} updated in cluster ${hexWide(resp.header?.clusterId ?? 0n)}`);
  },
};

export const member: Command = {
  name: "member", use: "member <subcommand>", short: "Membership related commands",
  sub: [add, list, promote, remove, update],
};

export const moveLeader: Command = {
  name: "move-leader", use: "move-leader <transferee-member-id>", short: "Transfers leadership to another etcd cluster member.",
  async run(c) {
    if (c.args.length !== 1) throw new GoError("move-leader command needs 1 argument");
    const target = parseUint64(c.args[0], 16);
    // The client etcdctl makes first (credentials checked, logged in), then one per endpoint,
    // in order, until one says it leads: only the leader can hand the leadership over.
    await c.client();
    const eps = c.endpoints();
    let leader: { api: Api; id: bigint } | undefined;
    for (const ep of eps) {
      const api = await c.clientAt(ep);
      const s = await api.status();
      if ((s.header?.memberId ?? 0n) === s.leader) {
        leader = { api, id: s.leader };
        break;
      }
    }
    if (!leader) throw new GoError(`no leader endpoint given at [${eps.join(" ")}]`);
    const resp = await leader.api.moveLeader(target);
    c.printer().moveLeader(leader.id, target, resp);
  },
};
