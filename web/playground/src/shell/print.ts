// etcdctl's printers (printer_simple.go, printer_json.go, printer_fields.go, printer_table.go):
// the same lines for the same responses. JSON goes through json.ts; where etcdctl prints a
// clientv3 wrapper rather than the protobuf message (watch, lease grant/keep-alive/
// time-to-live/list, endpoint status), the wrapper's shape is built here.
import type { DescMessage } from "@bufbuild/protobuf";
import { Permission_Type, type Permission } from "../../../client/src/gen/etcd/api/authpb/auth_pb.js";
import {
  AuthRoleGetResponseSchema, AuthRoleListResponseSchema, AuthStatusResponseSchema, AuthUserGetResponseSchema,
  AuthUserListResponseSchema,
  DeleteRangeResponseSchema, HashKVResponseSchema, LeaseRevokeResponseSchema, MemberListResponseSchema, MoveLeaderResponseSchema,
  PutResponseSchema, RangeResponseSchema, ResponseHeaderSchema, StatusResponseSchema, TxnResponseSchema,
  type AuthRoleGetResponse, type AuthRoleListResponse, type AuthStatusResponse, type AuthUserGetResponse,
  type AuthUserListResponse,
  type DeleteRangeResponse, type HashKVResponse, type LeaseGrantResponse, type LeaseKeepAliveResponse, type LeaseLeasesResponse,
  type LeaseRevokeResponse, type LeaseTimeToLiveResponse, type Member, type MemberListResponse,
  type MoveLeaderResponse, type PutResponse, type RangeResponse, type ResponseHeader,
  type StatusResponse, type TxnResponse, type WatchResponse,
} from "../../../client/src/gen/etcd/api/etcdserverpb/rpc_pb.js";
import { prefixEnd } from "../../../client/src/client.js";
import { EventSchema, Event_EventType, type KeyValue } from "../../../client/src/gen/etcd/api/mvccpb/kv_pb.js";
import { GoError, goQuote, goQuoteBytes, hex, hex16, hexBytes, humanizeBytes, jsonString, base64, text } from "./gofmt.js";
import { goFields, goJSON, object } from "./json.js";
import { renderTable } from "./table.js";

export const FORMATS = ["fields", "json", "protobuf", "simple", "table"] as const;
export type Format = (typeof FORMATS)[number];

/** Where a command writes: stdout lines and stderr lines. */
export interface Sink {
  line(s: string): void;
  err(s: string): void;
}

export interface EpStatus {
  ep: string;
  resp: StatusResponse;
}

export interface EpHashKV {
  ep: string;
  resp: HashKVResponse;
}

export interface EpHealth {
  ep: string;
  health: boolean;
  took: string;
  error: string;
}

const STATUS_HEADER = [
  "endpoint", "ID", "version", "storage version", "db size", "in use", "percentage not in use", "quota", "is leader",
  "is learner", "raft term", "raft index", "raft applied index", "errors", "downgrade target version", "downgrade enabled",
];

function statusRow({ ep, resp: r }: EpStatus): string[] {
  const member = r.header?.memberId ?? 0n;
  // etcdctl divides by the DB size; a zero size (which etcd never reports) reads as 0% here.
  const notInUse = r.dbSize === 0n ? 0n : 100n - (r.dbSizeInUse * 100n) / r.dbSize;
  return [
    ep, hex(member), r.version, r.storageVersion, humanizeBytes(r.dbSize), humanizeBytes(r.dbSizeInUse), `${notInUse}%`,
    humanizeBytes(r.dbSizeQuota), String(r.leader === member), String(r.isLearner), String(r.raftTerm),
    String(r.raftIndex), String(r.raftAppliedIndex), r.errors.join(", "), r.downgradeInfo?.targetVersion ?? "",
    String(r.downgradeInfo?.enabled ?? false),
  ];
}

// makeEndpointHashKVTable.
const HASHKV_HEADER = ["endpoint", "hash", "hash_revision"];
const hashKVRow = ({ ep, resp: r }: EpHashKV): string[] => [ep, String(r.hash), String(r.hashRevision)];

const healthRow = (h: EpHealth): string[] => [h.ep, String(h.health), h.took, h.error];

const MEMBER_HEADER = ["ID", "Status", "Name", "Peer Addrs", "Client Addrs", "Is Learner"];

// makeMemberListTable: a member has a name once it has started (and published it).
const memberRow = (m: Member): string[] => [
  hex(m.ID), m.name === "" ? "unstarted" : "started", m.name, m.peerURLs.join(","), m.clientURLs.join(","), String(m.isLearner),
];

/** json.Marshal of a []string from a response: an empty one is nil there, "null". */
const jsonStrings = (l: string[]): string => (l.length === 0 ? "null" : "[" + l.map((u) => jsonString(u)).join(",") + "]");

/**
 * member list -w json --hex: etcdctl writes it by hand (printMemberListWithHexJSON): IDs as hex
 * strings, names unescaped, no isLearner, no "members" without members.
 */
function memberListHexJSON(r: MemberListResponse): string {
  const h = r.header;
  let s = `{"header":{"cluster_id":"${hex(h?.clusterId ?? 0n)}","member_id":"${hex(h?.memberId ?? 0n)}","raft_term":${h?.raftTerm ?? 0n}}`;
  r.members.forEach((m, i) => {
    s += (i === 0 ? ',"members":[{"ID":"' : ',{"ID":"') + hex(m.ID) + '","name":"' + m.name + '","peerURLs":' +
      jsonStrings(m.peerURLs) + ',"clientURLs":' + jsonStrings(m.clientURLs) + "}";
    if (i === r.members.length - 1) s += "]";
  });
  return s + "}";
}

/** %16x: hex padded with spaces to 16 characters, as etcdctl prints a member changed. */
export const hexWide = (n: bigint): string => hex(n).padStart(16);

export class Printer {
  /** get --print-value-only */
  valueOnly = false;

  constructor(private readonly out: Sink, readonly format: Format, readonly isHex: boolean) {}

  private unsupported(): never {
    throw new GoError(`${this.format} not supported as output format`);
  }

  private json(s: string): void {
    this.out.line(s);
  }

  // ---- simple helpers ----

  private kv(kv: KeyValue | undefined): void {
    const k = kv?.key ?? new Uint8Array(), v = kv?.value ?? new Uint8Array();
    if (!this.valueOnly) this.out.line(this.isHex ? hexBytes(k) : text(k));
    this.out.line(this.isHex ? hexBytes(v) : text(v));
  }

  // ---- fields helpers ----

  private fkv(pfx: string, kv: KeyValue | undefined): void {
    const o = this.out;
    o.line(`"${pfx}Key" : ${goQuoteBytes(kv?.key ?? new Uint8Array())}`);
    o.line(`"${pfx}CreateRevision" : ${kv?.createRevision ?? 0n}`);
    o.line(`"${pfx}ModRevision" : ${kv?.modRevision ?? 0n}`);
    o.line(`"${pfx}Version" : ${kv?.version ?? 0n}`);
    o.line(`"${pfx}Value" : ${goQuoteBytes(kv?.value ?? new Uint8Array())}`);
    o.line(`"${pfx}Lease" : ${this.isHex ? hex16(kv?.lease ?? 0n) : kv?.lease ?? 0n}`);
  }

  private fhdr(h: ResponseHeader | undefined): void {
    const c = h?.clusterId ?? 0n, m = h?.memberId ?? 0n, rev = h?.revision ?? 0n;
    this.out.line(`"ClusterID" : ${this.isHex ? hex(c) : c}`);
    this.out.line(`"MemberID" : ${this.isHex ? hex(m) : m}`);
    if (rev > 0n) this.out.line(`"Revision" : ${rev}`);
    this.out.line(`"RaftTerm" : ${h?.raftTerm ?? 0n}`);
  }

  private fid(id: bigint): void {
    this.out.line(`"ID" : ${this.isHex ? hex16(id) : id}`);
  }

  /** The fields of an embedded *pb.ResponseHeader, as encoding/json flattens them. */
  private static hdrFields(h: ResponseHeader | undefined): [string, string][] {
    return h ? goFields(ResponseHeaderSchema, h) : [];
  }

  // ---- KV ----

  get(r: RangeResponse): void {
    switch (this.format) {
      case "simple": return r.kvs.forEach((kv) => this.kv(kv));
      case "json": return this.json(goJSON(RangeResponseSchema, r));
      case "fields":
        this.fhdr(r.header);
        r.kvs.forEach((kv) => this.fkv("", kv));
        this.out.line(`"More" : ${r.more}`);
        this.out.line(`"Count" : ${r.count}`);
        return;
      default: this.unsupported();
    }
  }

  put(r: PutResponse): void {
    switch (this.format) {
      case "simple":
        this.out.line("OK");
        if (r.prevKv) this.kv(r.prevKv);
        return;
      case "json": return this.json(goJSON(PutResponseSchema, r));
      case "fields":
        this.fhdr(r.header);
        if (r.prevKv) this.fkv("Prev", r.prevKv);
        return;
      default: this.unsupported();
    }
  }

  del(r: DeleteRangeResponse): void {
    switch (this.format) {
      case "simple":
        this.out.line(String(r.deleted));
        r.prevKvs.forEach((kv) => this.kv(kv));
        return;
      case "json": return this.json(goJSON(DeleteRangeResponseSchema, r));
      case "fields":
        this.fhdr(r.header);
        this.out.line(`"Deleted" : ${r.deleted}`);
        r.prevKvs.forEach((kv) => this.fkv("Prev", kv));
        return;
      default: this.unsupported();
    }
  }

  txn(r: TxnResponse): void {
    switch (this.format) {
      case "simple":
        this.out.line(r.succeeded ? "SUCCESS" : "FAILURE");
        for (const op of r.responses) {
          this.out.line("");
          const x = op.response;
          if (x.case === "responseDeleteRange") this.del(x.value);
          else if (x.case === "responsePut") this.put(x.value);
          else if (x.case === "responseRange") this.get(x.value);
          else this.out.line(`unexpected response ${x.case ?? "<nil>"}`);
        }
        return;
      case "json": return this.json(goJSON(TxnResponseSchema, r));
      case "fields":
        this.fhdr(r.header);
        this.out.line(`"Succeeded" : ${r.succeeded}`);
        for (const op of r.responses) {
          const x = op.response;
          if (x.case === "responseDeleteRange") this.del(x.value);
          else if (x.case === "responsePut") this.put(x.value);
          else if (x.case === "responseRange") this.get(x.value);
          else this.out.line(`"Unknown" : ${goQuote(String(x.case))}`);
        }
        return;
      default: this.unsupported();
    }
  }

  watch(r: WatchResponse): void {
    switch (this.format) {
      case "simple":
        for (const e of r.events) {
          this.out.line(Event_EventType[e.type] ?? String(e.type));
          if (e.prevKv) this.kv(e.prevKv);
          this.kv(e.kv);
        }
        return;
      case "json":
        // clientv3.WatchResponse: exported fields, no tags; Header is a struct, not a pointer.
        return this.json(object([
          ["Header", goJSON(ResponseHeaderSchema, r.header)],
          ["Events", "[" + r.events.map((e) => goJSON(EventSchema, e)).join(",") + "]"],
          ["CompactRevision", String(r.compactRevision)],
          ["Canceled", String(r.canceled)],
          ["Created", String(r.created)],
        ]));
      case "fields":
        this.fhdr(r.header);
        for (const e of r.events) {
          this.out.line(`"Type" : ${Event_EventType[e.type] ?? e.type}`);
          if (e.prevKv) this.fkv("Prev", e.prevKv);
          this.fkv("", e.kv);
        }
        return;
      default: this.unsupported();
    }
  }

  // ---- leases ----

  grant(r: LeaseGrantResponse): void {
    this.leaseTTL(r, `lease ${hex16(r.ID)} granted with TTL(${r.TTL}s)`, [["Error", jsonString(r.error)]]);
  }

  /** A lease's ID and TTL, as grant and keep-alive print them; json adds extra fields. */
  private leaseTTL(r: LeaseGrantResponse | LeaseKeepAliveResponse, simple: string, extra: [string, string][] = []): void {
    switch (this.format) {
      case "simple": return this.out.line(simple);
      case "json":
        return this.json(object([...Printer.hdrFields(r.header), ["ID", String(r.ID)], ["TTL", String(r.TTL)], ...extra]));
      case "fields":
        this.fhdr(r.header);
        this.fid(r.ID);
        this.out.line(`"TTL" : ${r.TTL}`);
        return;
      default: this.unsupported();
    }
  }

  revoke(id: bigint, r: LeaseRevokeResponse): void {
    switch (this.format) {
      case "simple": return this.out.line(`lease ${hex16(id)} revoked`);
      case "json": return this.json(goJSON(LeaseRevokeResponseSchema, r));
      case "fields": return this.fhdr(r.header);
      default: this.unsupported();
    }
  }

  keepAlive(r: LeaseKeepAliveResponse): void {
    this.leaseTTL(r, `lease ${hex16(r.ID)} keepalived with TTL(${r.TTL})`);
  }

  timeToLive(r: LeaseTimeToLiveResponse, keys: boolean): void {
    switch (this.format) {
      case "simple": {
        if (r.grantedTTL === 0n && r.TTL === -1n) return this.out.line(`lease ${hex16(r.ID)} already expired`);
        let s = `lease ${hex16(r.ID)} granted with TTL(${r.grantedTTL}s), remaining(${r.TTL}s)`;
        if (keys) s += `, attached keys([${r.keys.map(text).join(" ")}])`;
        return this.out.line(s);
      }
      case "json":
        return this.json(object([...Printer.hdrFields(r.header), ["id", String(r.ID)], ["ttl", String(r.TTL)],
          ["granted-ttl", String(r.grantedTTL)],
          ["keys", r.keys.length === 0 ? "null" : "[" + r.keys.map((k) => `"${base64(k)}"`).join(",") + "]"]]));
      case "fields":
        this.fhdr(r.header);
        this.fid(r.ID);
        this.out.line(`"TTL" : ${r.TTL}`);
        this.out.line(`"GrantedTTL" : ${r.grantedTTL}`);
        r.keys.forEach((k) => this.out.line(`"Key" : ${goQuoteBytes(k)}`));
        return;
      default: this.unsupported();
    }
  }

  leases(r: LeaseLeasesResponse): void {
    switch (this.format) {
      case "simple":
        this.out.line(`found ${r.leases.length} leases`);
        r.leases.forEach((l) => this.out.line(hex16(l.ID)));
        return;
      case "json":
        return this.json(object([...Printer.hdrFields(r.header),
          ["leases", "[" + r.leases.map((l) => object([["id", String(l.ID)]])).join(",") + "]"]]));
      case "fields":
        this.fhdr(r.header);
        r.leases.forEach((l) => this.fid(l.ID));
        return;
      default: this.unsupported();
    }
  }

  // ---- endpoints ----

  endpointStatus(list: EpStatus[]): void {
    switch (this.format) {
      case "simple": return list.forEach((s) => this.out.line(statusRow(s).join(", ")));
      case "json":
        if (list.length === 0) return this.json("null"); // a nil slice
        return this.json("[" + list.map((s) => object([["Endpoint", jsonString(s.ep)],
          ["Status", goJSON(StatusResponseSchema, s.resp)]])).join(",") + "]");
      case "table": return renderTable(STATUS_HEADER, list.map(statusRow)).forEach((l) => this.out.line(l));
      case "fields":
        for (const { ep, resp: r } of list) {
          const o = this.out;
          this.fhdr(r.header);
          o.line(`"Version" : ${goQuote(r.version)}`);
          o.line(`"StorageVersion" : ${goQuote(r.storageVersion)}`);
          o.line(`"DBSize" : ${r.dbSize}`);
          o.line(`"DBSizeInUse" : ${r.dbSizeInUse}`);
          o.line(`"DBSizeQuota" : ${r.dbSizeQuota}`);
          o.line(`"Leader" : ${r.leader}`);
          o.line(`"IsLearner" : ${r.isLearner}`);
          o.line(`"RaftIndex" : ${r.raftIndex}`);
          o.line(`"RaftAppliedIndex" : ${r.raftAppliedIndex}`);
          o.line(`"Errors" : [${r.errors.join(" ")}]`);
          o.line(`"Endpoint" : ${goQuote(ep)}`);
          o.line(`"DowngradeTargetVersion" : ${goQuote(r.downgradeInfo?.targetVersion ?? "")}`);
          o.line(`"DowngradeEnabled" : ${r.downgradeInfo?.enabled ?? false}`);
          o.line("");
        }
        return;
      default: this.unsupported();
    }
  }

  endpointHashKV(list: EpHashKV[]): void {
    switch (this.format) {
      case "simple": return list.forEach((h) => this.out.line(hashKVRow(h).join(", ")));
      case "json":
        if (list.length === 0) return this.json("null"); // a nil slice
        return this.json("[" + list.map((h) => object([["Endpoint", jsonString(h.ep)],
          ["HashKV", goJSON(HashKVResponseSchema, h.resp)]])).join(",") + "]");
      case "table": return renderTable(HASHKV_HEADER, list.map(hashKVRow)).forEach((l) => this.out.line(l));
      case "fields":
        for (const { ep, resp: r } of list) {
          this.fhdr(r.header);
          this.out.line(`"Endpoint" : ${goQuote(ep)}`);
          this.out.line(`"Hash" : ${r.hash}`);
          this.out.line(`"HashRevision" : ${r.hashRevision}`);
          this.out.line("");
        }
        return;
      default: this.unsupported();
    }
  }

  // ---- members ----

  memberList(r: MemberListResponse): void {
    switch (this.format) {
      case "simple": return r.members.forEach((m) => this.out.line(memberRow(m).join(", ")));
      case "json": return this.json(this.isHex ? memberListHexJSON(r) : goJSON(MemberListResponseSchema, r));
      case "table": return renderTable(MEMBER_HEADER, r.members.map(memberRow)).forEach((l) => this.out.line(l));
      case "fields":
        this.fhdr(r.header);
        for (const m of r.members) {
          const o = this.out;
          o.line(`"ID" : ${this.isHex ? hex(m.ID) : m.ID}`);
          o.line(`"Name" : ${goQuote(m.name)}`);
          m.peerURLs.forEach((u) => o.line(`"PeerURL" : ${goQuote(u)}`));
          m.clientURLs.forEach((u) => o.line(`"ClientURL" : ${goQuote(u)}`));
          o.line(`"IsLearner" : ${m.isLearner}`);
          o.line("");
        }
        return;
      default: this.unsupported();
    }
  }

  /** What member add, remove, update and promote answer: a line (simple) or the response (json), no other format. */
  memberChanged(schema: DescMessage, r: { header?: ResponseHeader }, simple: string): void {
    switch (this.format) {
      case "simple": return this.out.line(simple);
      case "json": return this.json(goJSON(schema, r));
      default: this.unsupported();
    }
  }

  moveLeader(leader: bigint, target: bigint, r: MoveLeaderResponse): void {
    switch (this.format) {
      case "simple": return this.out.line(`Leadership transferred from ${hex(leader)} to ${hex(target)}`);
      case "json": return this.json(goJSON(MoveLeaderResponseSchema, r));
      default: this.unsupported();
    }
  }

  // ---- auth ----

  /**
   * What a change answers (user add, role grant-permission...): a line (simple), the
   * response (json), its header (fields). etcdctl has no table for any auth response.
   */
  authChanged(schema: DescMessage, r: { header?: ResponseHeader }, simple: string): void {
    switch (this.format) {
      case "simple": return this.out.line(simple);
      case "json": return this.json(goJSON(schema, r));
      case "fields": return this.fhdr(r.header);
      default: this.unsupported();
    }
  }

  /** role revoke-permission: key as typed, end as computed from it and the flags. */
  static revokedText(role: string, key: string, end: Uint8Array): string {
    if (end.length === 0) return `Permission of key ${key} is revoked from role ${role}`;
    if (end.length === 1 && end[0] === 0) return `Permission of range [${key}, <open ended> is revoked from role ${role}`;
    return `Permission of range [${key}, ${text(end)}) is revoked from role ${role}`;
  }

  authStatus(r: AuthStatusResponse): void {
    switch (this.format) {
      case "simple":
        this.out.line(`Authentication Status: ${r.enabled}`);
        this.out.line(`AuthRevision: ${r.authRevision}`);
        return;
      case "json": return this.json(goJSON(AuthStatusResponseSchema, r));
      default: this.unsupported();
    }
  }

  userGet(name: string, r: AuthUserGetResponse): void {
    switch (this.format) {
      case "simple":
        this.out.line(`User: ${name}`);
        this.out.line("Roles:" + r.roles.map((role) => " " + role).join(""));
        return;
      case "json": return this.json(goJSON(AuthUserGetResponseSchema, r));
      default: this.unsupported();
    }
  }

  userList(r: AuthUserListResponse): void {
    switch (this.format) {
      case "simple": return r.users.forEach((u) => this.out.line(u));
      case "json": return this.json(goJSON(AuthUserListResponseSchema, r));
      default: this.unsupported();
    }
  }

  roleList(r: AuthRoleListResponse): void {
    switch (this.format) {
      case "simple": return r.roles.forEach((role) => this.out.line(role));
      case "json": return this.json(goJSON(AuthRoleListResponseSchema, r));
      case "fields":
        this.fhdr(r.header);
        this.out.line(`"Roles" :` + r.roles.map((role) => " " + goQuote(role)).join(""));
        return;
      default: this.unsupported();
    }
  }

  roleGet(role: string, r: AuthRoleGetResponse): void {
    switch (this.format) {
      case "simple": {
        const o = this.out;
        o.line(`Role ${role}`);
        if (role === "root" && r.perm.length === 0) {
          o.line("KV Read:");
          o.line("\t[, <open ended>");
          o.line("KV Write:");
          o.line("\t[, <open ended>");
          return;
        }
        // Keys as they are (etcdctl prints their bytes); a range that is a prefix says so.
        const show = (p: Permission) => {
          if (p.rangeEnd.length === 0) return o.line(`\t${text(p.key)}`);
          const open = p.rangeEnd.length === 1 && p.rangeEnd[0] === 0;
          let s = open ? `\t[${text(p.key)}, <open ended>` : `\t[${text(p.key)}, ${text(p.rangeEnd)})`;
          if (p.key.length > 0 && equal(prefixEnd(p.key), p.rangeEnd)) s += ` (prefix ${text(p.key)})`;
          o.line(s);
        };
        o.line("KV Read:");
        r.perm.filter((p) => p.permType === Permission_Type.READ || p.permType === Permission_Type.READWRITE).forEach(show);
        o.line("KV Write:");
        r.perm.filter((p) => p.permType === Permission_Type.WRITE || p.permType === Permission_Type.READWRITE).forEach(show);
        return;
      }
      case "json": return this.json(goJSON(AuthRoleGetResponseSchema, r));
      case "fields":
        this.fhdr(r.header);
        for (const p of r.perm) {
          // fmt.Println's space after the name's own: two.
          this.out.line(`"PermType" :  ${Permission_Type[p.permType] ?? p.permType}`);
          this.out.line(`"Key" : ${goQuoteBytes(p.key)}`);
          this.out.line(`"RangeEnd" : ${goQuoteBytes(p.rangeEnd)}`);
        }
        return;
      default: this.unsupported();
    }
  }

  endpointHealth(list: EpHealth[]): void {
    switch (this.format) {
      case "simple":
        for (const h of list) {
          if (h.error === "") this.out.line(`${h.ep} is healthy: successfully committed proposal: took = ${h.took}`);
          else this.out.err(`${h.ep} is unhealthy: failed to commit proposal: ${h.error}`);
        }
        return;
      case "json":
        if (list.length === 0) return this.json("null"); // a nil slice
        return this.json("[" + list.map((h) => object([["endpoint", jsonString(h.ep)], ["health", String(h.health)],
          ["took", jsonString(h.took)], ...(h.error ? [["error", jsonString(h.error)] as [string, string]] : [])])).join(",") + "]");
      case "table":
        return renderTable(["endpoint", "health", "took", "error"], list.map(healthRow)).forEach((l) => this.out.line(l));
      case "fields":
        for (const h of list) {
          this.out.line(`"Endpoint" : ${goQuote(h.ep)}`);
          this.out.line(`"Health" : ${h.health}`);
          this.out.line(`"Took" : ${h.took}`);
          this.out.line(`"Error" : ${h.error}`);
          this.out.line("");
        }
        return;
      default: this.unsupported();
    }
  }
}

const equal = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
