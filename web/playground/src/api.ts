// The one client interface the playground talks to, with two transports: the core running
// in this tab (WebAssembly, wasm/) and a live metastore (or etcd) server over gRPC-Web and
// WebSocket. Both speak etcd's messages (protobuf-es types generated from etcd's protos), so
// the console and panels cannot tell them apart except by `mode`.
//
// Auth: the Api a page gets is the page's own. On a server it is a client without
// credentials until the page signs in (then the client() of that user); in the tab it is the
// store's owner, which auth does not restrict (the panels inspect and edit the store whatever
// its users may do). client() gives the Api a client of etcd's sees (etcdctl's, for the
// console): without credentials, or logged in as a user.
import { create, fromJson, toJson, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import type { PermissionSchema } from "../../client/src/gen/etcd/api/authpb/auth_pb.js";
import {
  Auth, Cluster, KV, Lease, Maintenance, Watch,
  RangeRequestSchema, RangeResponseSchema, PutRequestSchema, PutResponseSchema,
  DeleteRangeRequestSchema, DeleteRangeResponseSchema, TxnRequestSchema, TxnResponseSchema,
  CompactionResponseSchema, StatusResponseSchema, HashKVResponseSchema, LeaseGrantResponseSchema, LeaseRevokeResponseSchema,
  LeaseKeepAliveResponseSchema, LeaseTimeToLiveResponseSchema, LeaseLeasesResponseSchema,
  WatchCreateRequestSchema, WatchResponseSchema, RequestOpSchema, ResponseOpSchema,
  type RangeResponse, type PutResponse, type DeleteRangeResponse, type TxnResponse, type CompactionResponse,
  type StatusResponse, type HashKVResponse, type LeaseGrantResponse, type LeaseRevokeResponse, type LeaseKeepAliveResponse,
  type LeaseTimeToLiveResponse, type LeaseLeasesResponse, type WatchResponse, type ResponseOp,
  AuthEnableResponseSchema, AuthDisableResponseSchema, AuthStatusResponseSchema,
  AuthUserAddRequestSchema, AuthUserAddResponseSchema, AuthUserGetResponseSchema, AuthUserListResponseSchema,
  AuthUserDeleteResponseSchema, AuthUserChangePasswordResponseSchema, AuthUserGrantRoleResponseSchema,
  AuthUserRevokeRoleResponseSchema, AuthRoleAddResponseSchema, AuthRoleGetResponseSchema, AuthRoleListResponseSchema,
  AuthRoleDeleteResponseSchema, AuthRoleGrantPermissionRequestSchema, AuthRoleGrantPermissionResponseSchema,
  AuthRoleRevokePermissionResponseSchema,
  type AuthEnableResponse, type AuthDisableResponse, type AuthStatusResponse, type AuthUserAddResponse,
  type AuthUserGetResponse, type AuthUserListResponse, type AuthUserDeleteResponse, type AuthUserChangePasswordResponse,
  type AuthUserGrantRoleResponse, type AuthUserRevokeRoleResponse, type AuthRoleAddResponse, type AuthRoleGetResponse,
  type AuthRoleListResponse, type AuthRoleDeleteResponse, type AuthRoleGrantPermissionResponse,
  type AuthRoleRevokePermissionResponse,
  type MemberListResponse, type MemberAddResponse, type MemberRemoveResponse, type MemberUpdateResponse,
  type MemberPromoteResponse, type MoveLeaderResponse,
} from "../../client/src/gen/etcd/api/etcdserverpb/rpc_pb.js";
import { call, MetaStoreError } from "../../client/src/client.js";
import { BidiStream } from "../../client/src/grpcws.js";
import { encodeRecords, workerBridge, type Bridge, type CallError } from "./bridge.js";

export { MetaStoreError };

export type Init<S extends DescMessage> = MessageInitShape<S>;

/** A watch in progress: cancel() ends it. */
export interface WatchHandle {
  cancel(): void;
}

/** A user's name and password (etcdctl's --user NAME:PASSWORD). */
export interface Credentials {
  user: string;
  password: string;
}

/** What a login answers while auth is off: clientv3 then goes on without a token. */
const AUTH_NOT_ENABLED = "etcdserver: authentication is not enabled";

export interface Api {
  /** "tab": the core in this page; "server": a live server at `endpoint`. */
  readonly mode: "tab" | "server" | "cluster";
  readonly endpoint: string;
  range(r: Init<typeof RangeRequestSchema>): Promise<RangeResponse>;
  put(r: Init<typeof PutRequestSchema>): Promise<PutResponse>;
  deleteRange(r: Init<typeof DeleteRangeRequestSchema>): Promise<DeleteRangeResponse>;
  txn(r: Init<typeof TxnRequestSchema>): Promise<TxnResponse>;
  /** physical: answer only once the compacted revisions are gone from the backend (etcdctl's --physical). */
  compact(revision: bigint, physical?: boolean): Promise<CompactionResponse>;
  status(): Promise<StatusResponse>;
  /** etcd's hash of the key history up to revision (0: the current one). */
  hashKV(revision: bigint): Promise<HashKVResponse>;
  leaseGrant(ttl: bigint, id?: bigint): Promise<LeaseGrantResponse>;
  leaseRevoke(id: bigint): Promise<LeaseRevokeResponse>;
  /** One keep-alive round trip: TTL ≤ 0 in the answer means the lease is gone. */
  leaseKeepAlive(id: bigint): Promise<LeaseKeepAliveResponse>;
  leaseTimeToLive(id: bigint, keys: boolean): Promise<LeaseTimeToLiveResponse>;
  leaseLeases(): Promise<LeaseLeasesResponse>;
  /**
   * Opens a watch. onResponse gets every WatchResponse, the created one first; onEnd is
   * called once if the watch ends other than by cancel() (an error, or a cancel by the
   * server, e.g. compaction).
   */
  watch(r: Init<typeof WatchCreateRequestSchema>, onResponse: (w: WatchResponse) => void,
    onEnd?: (err: MetaStoreError) => void): Promise<WatchHandle>;
  // etcd's Auth service.
  authEnable(): Promise<AuthEnableResponse>;
  authDisable(): Promise<AuthDisableResponse>;
  authStatus(): Promise<AuthStatusResponse>;
  /** A user with a password (hashed by the server; by the tab at bcrypt cost 4), or options.noPassword. */
  userAdd(r: Init<typeof AuthUserAddRequestSchema>): Promise<AuthUserAddResponse>;
  userGet(name: string): Promise<AuthUserGetResponse>;
  userList(): Promise<AuthUserListResponse>;
  userDelete(name: string): Promise<AuthUserDeleteResponse>;
  userChangePassword(name: string, password: string): Promise<AuthUserChangePasswordResponse>;
  userGrantRole(user: string, role: string): Promise<AuthUserGrantRoleResponse>;
  userRevokeRole(user: string, role: string): Promise<AuthUserRevokeRoleResponse>;
  roleAdd(name: string): Promise<AuthRoleAddResponse>;
  roleGet(name: string): Promise<AuthRoleGetResponse>;
  roleList(): Promise<AuthRoleListResponse>;
  roleDelete(name: string): Promise<AuthRoleDeleteResponse>;
  roleGrantPermission(name: string, perm: Init<typeof PermissionSchema>): Promise<AuthRoleGrantPermissionResponse>;
  roleRevokePermission(name: string, key: Uint8Array, rangeEnd: Uint8Array): Promise<AuthRoleRevokePermissionResponse>;
  // etcd's Cluster service, and Maintenance.MoveLeader.
  /** linearizable (the default, as clientv3's): the member first catches up with the leader. */
  memberList(linearizable?: boolean): Promise<MemberListResponse>;
  memberAdd(peerURLs: string[], isLearner: boolean): Promise<MemberAddResponse>;
  memberRemove(id: bigint): Promise<MemberRemoveResponse>;
  memberUpdate(id: bigint, peerURLs: string[]): Promise<MemberUpdateResponse>;
  /** A learner becomes a voter, once it has caught up with the leader. */
  memberPromote(id: bigint): Promise<MemberPromoteResponse>;
  /** Hands the leadership to targetID; only the leader can (etcdctl finds it by Status). */
  moveLeader(targetID: bigint): Promise<MoveLeaderResponse>;
  /**
   * The same client (the same credentials) talking to another endpoint of the same cluster,
   * as etcdctl's --endpoints and --cluster need; at(endpoint) is this Api itself. Throws a
   * MetaStoreError if there is no such endpoint.
   */
  at(endpoint: string): Api;
  /**
   * The store as a client sees it, as clientv3 makes one: logged in as creds.user (the
   * password is checked now: a wrong one fails here), or, without a user or a password, or
   * (in the tab) while auth is off, without credentials. Once auth is on, such a client's
   * calls need a user, and that user's permissions. A server's client keeps the credentials
   * (in memory) to log in again when its token is dropped or expires, or when auth is turned on.
   */
  client(creds?: Credentials): Promise<Api>;
  /** Only the tab has a clock the page controls, and a whole state it can save. */
  readonly tab?: TabControls;
}

export interface ClockState {
  paused: boolean;
  /** How far the store's clock is ahead of the wall clock, in ms. */
  aheadMs: number;
}

export interface TabControls {
  clock(action: "" | "pause" | "resume" | "advance", seconds?: number): Promise<ClockState>;
  /** The whole state in MetaStore's snapshot format. */
  snapshot(): Promise<Uint8Array>;
  restore(snapshot: Uint8Array): Promise<void>;
  reset(): Promise<void>;
  /** Runs many requests in one crossing of the bridge (not atomically: each on its own). */
  batch(ops: Init<typeof RequestOpSchema>[]): Promise<ResponseOp[]>;
  /** The bulk path: many puts (each its own revision) in one crossing, no JSON; the revision after. */
  putMany(kvs: [Uint8Array, Uint8Array][]): Promise<bigint>;
  /** The core's own speed in the tab, measured in Go on a scratch store. */
  bench(n: number): Promise<{ puts_per_sec: number; ranges_per_sec: number }>;
  /** The same Api on a separate, empty scratch store (for benchmarks); dropScratch frees it. */
  scratch(): Api;
  dropScratch(): Promise<void>;
}

// ---- the tab: the core as WebAssembly ----

const jsonOpts = { useProtoFieldName: true, enumAsInteger: true } as const;

/**
 * Starts the core from base (the folder holding metastore.wasm, wasm_exec.js and worker.js)
 * in a Web Worker, so no call blocks the page, and waits until it answers.
 */
export async function startTab(base = "."): Promise<Api> {
  const api = new TabApi(workerBridge(new Worker(`${base}/worker.js`)));
  await api.status();
  return api;
}

/**
 * What the tab's store answers to membership calls: it runs no Raft. (The Cluster tab's
 * members, in a worker of their own, are another Api.)
 */
const NOT_A_MEMBER = "the store in this tab is a single store, not a cluster member: the Cluster tab runs a Raft cluster in the tab";
const notAMember = (): Promise<never> => Promise.reject(new MetaStoreError(12, NOT_A_MEMBER));

const b64 = (b: Uint8Array): string => {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
};
const unb64 = (s: string): Uint8Array => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

export class TabApi implements Api {
  readonly mode: Api["mode"] = "tab";
  readonly endpoint: string;
  /**
   * prefix "scratch." makes this the Api of the scratch store. user makes it a client's: the
   * core checks its calls as a server checks that user's ("" for none); without it, it is the
   * page's own (see the top of this file). endpoint names it (the in-tab cluster's member).
   */
  constructor(protected readonly bridge: Bridge, private readonly prefix = "", private readonly user?: string, endpoint?: string) {
    this.endpoint = endpoint ?? (prefix ? "scratch store" : "this tab");
  }

  protected async ask(method: string, req: unknown): Promise<unknown> {
    try {
      return JSON.parse(await this.bridge.call(this.prefix + method, JSON.stringify(req), this.user));
    } catch (e) {
      const { code, message } = e as CallError;
      throw new MetaStoreError(code, message);
    }
  }

  protected async rpc<I extends DescMessage, O extends DescMessage>(method: string, inSchema: I, init: Init<I>,
    outSchema: O): Promise<MessageShape<O>> {
    const req = toJson(inSchema, create(inSchema, init), jsonOpts);
    return fromJson(outSchema, (await this.ask(method, req)) as never, { ignoreUnknownFields: true });
  }

  range = (r: Init<typeof RangeRequestSchema>) => this.rpc("range", RangeRequestSchema, r, RangeResponseSchema);
  put = (r: Init<typeof PutRequestSchema>) => this.rpc("put", PutRequestSchema, r, PutResponseSchema);
  deleteRange = (r: Init<typeof DeleteRangeRequestSchema>) =>
    this.rpc("deleterange", DeleteRangeRequestSchema, r, DeleteRangeResponseSchema);
  txn = (r: Init<typeof TxnRequestSchema>) => this.rpc("txn", TxnRequestSchema, r, TxnResponseSchema);

  protected async plain<O extends DescMessage>(method: string, req: unknown, outSchema: O): Promise<MessageShape<O>> {
    return fromJson(outSchema, (await this.ask(method, req)) as never, { ignoreUnknownFields: true });
  }

  compact = (revision: bigint, physical = false) =>
    this.plain("compaction", { revision: String(revision), physical }, CompactionResponseSchema);
  status = () => this.plain("status", {}, StatusResponseSchema);
  hashKV = (revision: bigint) => this.plain("hashkv", { revision: String(revision) }, HashKVResponseSchema);
  leaseGrant = (ttl: bigint, id = 0n) => this.plain("lease.grant", { TTL: String(ttl), ID: String(id) }, LeaseGrantResponseSchema);
  leaseRevoke = (id: bigint) => this.plain("lease.revoke", { ID: String(id) }, LeaseRevokeResponseSchema);
  leaseKeepAlive = (id: bigint) => this.plain("lease.keepalive", { ID: String(id) }, LeaseKeepAliveResponseSchema);
  leaseTimeToLive = (id: bigint, keys: boolean) =>
    this.plain("lease.timetolive", { ID: String(id), keys }, LeaseTimeToLiveResponseSchema);
  leaseLeases = () => this.plain("lease.leases", {}, LeaseLeasesResponseSchema);

  authEnable = () => this.plain("auth.enable", {}, AuthEnableResponseSchema);
  authDisable = () => this.plain("auth.disable", {}, AuthDisableResponseSchema);
  authStatus = () => this.plain("auth.status", {}, AuthStatusResponseSchema);
  userAdd = (r: Init<typeof AuthUserAddRequestSchema>) =>
    this.rpc("auth.user.add", AuthUserAddRequestSchema, r, AuthUserAddResponseSchema);
  userGet = (name: string) => this.plain("auth.user.get", { name }, AuthUserGetResponseSchema);
  userList = () => this.plain("auth.user.list", {}, AuthUserListResponseSchema);
  userDelete = (name: string) => this.plain("auth.user.delete", { name }, AuthUserDeleteResponseSchema);
  userChangePassword = (name: string, password: string) =>
    this.plain("auth.user.changepw", { name, password }, AuthUserChangePasswordResponseSchema);
  userGrantRole = (user: string, role: string) => this.plain("auth.user.grant", { user, role }, AuthUserGrantRoleResponseSchema);
  userRevokeRole = (user: string, role: string) =>
    this.plain("auth.user.revoke", { name: user, role }, AuthUserRevokeRoleResponseSchema);
  roleAdd = (name: string) => this.plain("auth.role.add", { name }, AuthRoleAddResponseSchema);
  roleGet = (name: string) => this.plain("auth.role.get", { role: name }, AuthRoleGetResponseSchema);
  roleList = () => this.plain("auth.role.list", {}, AuthRoleListResponseSchema);
  roleDelete = (name: string) => this.plain("auth.role.delete", { role: name }, AuthRoleDeleteResponseSchema);
  roleGrantPermission = (name: string, perm: Init<typeof PermissionSchema>) =>
    this.rpc("auth.role.grant", AuthRoleGrantPermissionRequestSchema, { name, perm }, AuthRoleGrantPermissionResponseSchema);
  roleRevokePermission = (name: string, key: Uint8Array, rangeEnd: Uint8Array) =>
    this.plain("auth.role.revoke", { role: name, key: b64(key), range_end: b64(rangeEnd) }, AuthRoleRevokePermissionResponseSchema);

  memberList: Api["memberList"] = (): Promise<MemberListResponse> => notAMember();
  memberAdd: Api["memberAdd"] = (): Promise<MemberAddResponse> => notAMember();
  memberRemove: Api["memberRemove"] = (): Promise<MemberRemoveResponse> => notAMember();
  memberUpdate: Api["memberUpdate"] = (): Promise<MemberUpdateResponse> => notAMember();
  memberPromote: Api["memberPromote"] = (): Promise<MemberPromoteResponse> => notAMember();
  moveLeader: Api["moveLeader"] = (): Promise<MoveLeaderResponse> => notAMember();

  at(endpoint: string): Api {
    if (endpoint === this.endpoint) return this;
    throw new MetaStoreError(14, `this tab has no endpoint ${JSON.stringify(endpoint)}: ${NOT_A_MEMBER}`);
  }

  async client(creds?: Credentials): Promise<Api> {
    const anonymous = new TabApi(this.bridge, this.prefix, "");
    // clientv3 logs in only with both; a login while auth is off leaves it without a token.
    if (!creds || creds.user === "" || creds.password === "") return anonymous;
    try {
      await anonymous.ask("auth.authenticate", { name: creds.user, password: creds.password });
    } catch (e) {
      if (e instanceof MetaStoreError && e.message === AUTH_NOT_ENABLED) return anonymous;
      throw e;
    }
    return new TabApi(this.bridge, this.prefix, creds.user);
  }

  async watch(r: Init<typeof WatchCreateRequestSchema>, onResponse: (w: WatchResponse) => void,
    onEnd?: (err: MetaStoreError) => void): Promise<WatchHandle> {
    const req = toJson(WatchCreateRequestSchema, create(WatchCreateRequestSchema, r), jsonOpts);
    const first = (await this.ask("watch.create", req)) as { stream?: string; result: unknown };
    const parse = (j: unknown) => fromJson(WatchResponseSchema, j as never, { ignoreUnknownFields: true });
    if (first.stream === undefined) {
      // Refused (auth): a server's cancel, and no stream.
      onResponse(parse(first.result));
      return { cancel: () => {} };
    }
    const cancel = () => void this.ask("watch.cancel", { stream: first.stream }).catch(() => {});
    let cancelled = false;
    onResponse(parse(first.result));
    (async () => {
      while (!cancelled) {
        let next: { result: unknown };
        try {
          next = JSON.parse(await this.bridge.call(this.prefix + "watch.next", JSON.stringify({ stream: first.stream })));
        } catch (e) {
          if (!cancelled) {
            const { code, message } = e as { code: number; message: string };
            onEnd?.(new MetaStoreError(code, message));
          }
          return;
        }
        if (cancelled) return;
        const w = parse(next.result);
        onResponse(w);
        if (w.canceled) {
          cancelled = true;
          cancel();
          return;
        }
      }
    })();
    return {
      cancel: () => {
        if (cancelled) return;
        cancelled = true;
        cancel();
      },
    };
  }

  readonly tab?: TabControls = {
    clock: async (action, seconds = 0) => {
      const r = (await this.ask("clock", { action, seconds: String(Math.round(seconds)) })) as { paused: boolean; ahead_ms: string };
      return { paused: r.paused, aheadMs: Number(r.ahead_ms) };
    },
    snapshot: async () => unb64(((await this.ask("snapshot", {})) as { snapshot: string }).snapshot),
    restore: async (snap) => void (await this.ask("restore", { snapshot: b64(snap) })),
    reset: async () => void (await this.ask("reset", {})),
    batch: async (ops) => {
      const reqs = ops.map((o) => toJson(RequestOpSchema, create(RequestOpSchema, o), jsonOpts));
      const r = (await this.ask("batch", { requests: reqs })) as { responses: unknown[] };
      return r.responses.map((j) => fromJson(ResponseOpSchema, j as never, { ignoreUnknownFields: true }));
    },
    putMany: async (kvs) => {
      try {
        return BigInt(await this.bridge.putMany(encodeRecords(kvs), this.prefix !== ""));
      } catch (e) {
        const { code, message } = e as CallError;
        throw new MetaStoreError(code, message);
      }
    },
    bench: async (n) => (await this.ask("bench", { n })) as { puts_per_sec: number; ranges_per_sec: number },
    scratch: () => new TabApi(this.bridge, "scratch.", this.user),
    dropScratch: async () => void (await this.ask("scratch.drop", {})),
  };
}

// ---- a live server: gRPC-Web for unary calls, WebSocket for the streams ----

/**
 * etcd's answers to a call whose token it does not take (expired, dropped by a password change
 * or by auth turned off and on, older than a change of the auth store) or that has none while
 * auth is on: a client with credentials then logs in again and tries once more, as clientv3
 * (and the TypeScript client) do.
 */
const TOKEN_ERRORS = [
  "etcdserver: invalid auth token",
  "etcdserver: revision of auth store is old",
  "etcdserver: user name is empty",
];
const isTokenError = (e: unknown) => e instanceof MetaStoreError && TOKEN_ERRORS.includes(e.message);
/** A watch refused for its token: the cancel reason ends with the error's text. */
const tokenRefusal = (reason: string) => TOKEN_ERRORS.some((t) => reason.endsWith(t));

/**
 * A server's answers to a caller it does not let in: who is asking (no user, a token it does
 * not take, a failed login), or not this user. The page then asks for a sign-in.
 */
const REFUSALS = [
  "etcdserver: user name is empty",
  "etcdserver: invalid auth token",
  "etcdserver: permission denied",
  "etcdserver: authentication failed, invalid user ID or password",
];
export const isRefusal = (message: string): boolean => REFUSALS.includes(message);

/**
 * A server's base URL from what a person types: a URL, or etcdctl's host:port (--endpoints
 * 127.0.0.1:2379), which means http://. Without a scheme the address would be a path on the
 * page's own server (which answers "unknown service").
 */
export function serverUrl(typed: string): string {
  const t = typed.trim().replace(/\/+$/, "");
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(t) ? t : `http://${t}`;
}

/**
 * Connects to a metastore (or etcd behind a gRPC-Web proxy) at address (a URL, e.g.
 * http://127.0.0.1:2379, or host:port), without credentials. It fails now, with the reason in
 * words (see whyNot), rather than at the first command; a server that answers but refuses
 * (auth is on) is connected to: the page then asks for a user.
 */
export async function connectServer(address: string): Promise<Api> {
  const api = new ServerApi(serverUrl(address));
  try {
    await api.status();
  } catch (e) {
    if (!(e instanceof MetaStoreError && isRefusal(e.message))) throw new Error(await whyNot(api.endpoint, e), { cause: e });
  }
  return api;
}

/**
 * Why a first call to the server at base failed, in words. A browser says "Failed to fetch"
 * both where nothing answers and where a server answers without letting this page read its
 * answers (CORS): a request that needs no permission (mode no-cors, whose answer the page may
 * not read but gets) tells the two apart.
 */
async function whyNot(base: string, e: unknown): Promise<string> {
  const said = (e as Error).message;
  if (!(e instanceof MetaStoreError)) return said;
  const page = location.origin;
  if (e.cause instanceof TypeError) {
    if (location.protocol === "https:" && base.startsWith("http:")) {
      return `this page is https, and a browser does not let it call an http:// server (${said}): use https, or open the page over http`;
    }
    const answers = await fetch(`${base}/health`, { mode: "no-cors", credentials: "omit", signal: AbortSignal.timeout(5000) })
      .then(() => true, () => false);
    return answers
      ? `it answers, but does not let this page (${page}) read its answers (CORS): start it with --cors=${page} (or --cors='*'), ` +
        "or open the playground it serves itself"
      : `unreachable: nothing answers at ${base} (${said}). Is the server running, and is this its client URL (etcdctl's --endpoints)?`;
  }
  // What a web server that is no gRPC-Web endpoint makes of the call: a 404, or a page
  // (HTML) where gRPC-Web's framing was expected.
  if (e.code === 12 || /unknown service|^HTTP \d+|protocol error|missing (trailer|message)|envelope/i.test(said)) {
    return `not a MetaStore or etcd gRPC-Web endpoint (it says: ${said}). Give a member's client URL, e.g. http://127.0.0.1:2379`;
  }
  if (e.code === 4 || e.code === 1) return `no answer within 10 s (${said}): the server is too busy, or this is not its client port`;
  if (e.code === 14) return `unreachable (${said})`;
  return said;
}

class ServerApi implements Api {
  readonly mode = "server";
  private readonly kv: Client<typeof KV>;
  private readonly leases: Client<typeof Lease>;
  private readonly maint: Client<typeof Maintenance>;
  private readonly auth: Client<typeof Auth>;
  private readonly cluster: Client<typeof Cluster>;
  /** The latest login's token ("" while auth is off), for a client made with credentials. */
  private session?: Promise<string>;

  /**
   * creds: a client logged in as creds.user, as clientv3 makes one: the token goes with every
   * call (the "token" metadata) and in each stream's header block; a token the server no
   * longer takes is replaced by a new login. The password stays in this object only.
   */
  constructor(readonly endpoint: string, private readonly creds?: Credentials) {
    // A server that stops answering must not hang the page: unary calls give up after 10 s.
    const transport = createGrpcWebTransport({ baseUrl: endpoint, useBinaryFormat: true, defaultTimeoutMs: 10_000 });
    this.kv = createClient(KV, transport);
    this.leases = createClient(Lease, transport);
    this.maint = createClient(Maintenance, transport);
    this.auth = createClient(Auth, transport);
    this.cluster = createClient(Cluster, transport);
  }

  /** Logs in afresh (while auth is off: no token, the credentials kept for when it is on). */
  private logIn(): Promise<string> {
    const { user, password } = this.creds!;
    const p = call(() => this.auth.authenticate({ name: user, password })).then((r) => r.token, (e) => {
      if (e instanceof MetaStoreError && e.message === AUTH_NOT_ENABLED) return "";
      throw e;
    });
    this.session = p;
    // A failed login is not kept: the next call tries again.
    p.catch(() => {
      if (this.session === p) this.session = undefined;
    });
    return p;
  }

  /** The metadata of a call: the current login's token (logging in first if need be). */
  private async headers(): Promise<Record<string, string>> {
    if (!this.creds) return {};
    const token = await (this.session ?? this.logIn());
    return token ? { token } : {};
  }

  /**
   * Makes a call (unary, or a stream's whole life) with the token. If the server no longer
   * takes it, logs in again (unless another call already has) and tries once more.
   */
  private async rpc<T>(f: (headers: Record<string, string>) => Promise<T>): Promise<T> {
    for (let retried = false; ; retried = true) {
      const session = this.creds ? (this.session ?? this.logIn()) : undefined;
      try {
        return await call(async () => {
          const token = await session;
          return f(token ? { token } : {});
        });
      } catch (e) {
        if (retried || !session || !isTokenError(e)) throw e;
        if (this.session === session) void this.logIn().catch(() => {});
      }
    }
  }

  authEnable = () => this.rpc((headers) => this.auth.authEnable({}, { headers }));
  authDisable = () => this.rpc((headers) => this.auth.authDisable({}, { headers }));
  authStatus = () => this.rpc((headers) => this.auth.authStatus({}, { headers }));
  userAdd = (r: Init<typeof AuthUserAddRequestSchema>) => this.rpc((headers) => this.auth.userAdd(r, { headers }));
  userGet = (name: string) => this.rpc((headers) => this.auth.userGet({ name }, { headers }));
  userList = () => this.rpc((headers) => this.auth.userList({}, { headers }));
  userDelete = (name: string) => this.rpc((headers) => this.auth.userDelete({ name }, { headers }));
  userChangePassword = (name: string, password: string) =>
    this.rpc((headers) => this.auth.userChangePassword({ name, password }, { headers }));
  userGrantRole = (user: string, role: string) => this.rpc((headers) => this.auth.userGrantRole({ user, role }, { headers }));
  userRevokeRole = (user: string, role: string) =>
    this.rpc((headers) => this.auth.userRevokeRole({ name: user, role }, { headers }));
  roleAdd = (name: string) => this.rpc((headers) => this.auth.roleAdd({ name }, { headers }));
  roleGet = (name: string) => this.rpc((headers) => this.auth.roleGet({ role: name }, { headers }));
  roleList = () => this.rpc((headers) => this.auth.roleList({}, { headers }));
  roleDelete = (name: string) => this.rpc((headers) => this.auth.roleDelete({ role: name }, { headers }));
  roleGrantPermission = (name: string, perm: Init<typeof PermissionSchema>) =>
    this.rpc((headers) => this.auth.roleGrantPermission({ name, perm }, { headers }));
  roleRevokePermission = (name: string, key: Uint8Array, rangeEnd: Uint8Array) =>
    this.rpc((headers) => this.auth.roleRevokePermission({ role: name, key, rangeEnd }, { headers }));

  memberList = (linearizable = true) => this.rpc((headers) => this.cluster.memberList({ linearizable }, { headers }));
  memberAdd = (peerURLs: string[], isLearner: boolean) =>
    this.rpc((headers) => this.cluster.memberAdd({ peerURLs, isLearner }, { headers }));
  memberRemove = (id: bigint) => this.rpc((headers) => this.cluster.memberRemove({ ID: id }, { headers }));
  memberUpdate = (id: bigint, peerURLs: string[]) =>
    this.rpc((headers) => this.cluster.memberUpdate({ ID: id, peerURLs }, { headers }));
  memberPromote = (id: bigint) => this.rpc((headers) => this.cluster.memberPromote({ ID: id }, { headers }));
  moveLeader = (targetID: bigint) => this.rpc((headers) => this.maint.moveLeader({ targetID }, { headers }));

  /** Another member's client URL (or host:port), with these credentials (logged in there at its first call). */
  at(endpoint: string): Api {
    const url = serverUrl(endpoint);
    return url === this.endpoint ? this : new ServerApi(url, this.creds);
  }

  async client(creds?: Credentials): Promise<Api> {
    // clientv3 logs in only with both.
    if (!creds || creds.user === "" || creds.password === "") return this.creds === undefined ? this : new ServerApi(this.endpoint);
    const api = new ServerApi(this.endpoint, creds);
    await api.logIn(); // the password is checked now: a wrong one fails here
    return api;
  }

  range = (r: Init<typeof RangeRequestSchema>) => this.rpc((headers) => this.kv.range(r, { headers }));
  put = (r: Init<typeof PutRequestSchema>) => this.rpc((headers) => this.kv.put(r, { headers }));
  deleteRange = (r: Init<typeof DeleteRangeRequestSchema>) => this.rpc((headers) => this.kv.deleteRange(r, { headers }));
  txn = (r: Init<typeof TxnRequestSchema>) => this.rpc((headers) => this.kv.txn(r, { headers }));
  compact = (revision: bigint, physical = false) => this.rpc((headers) => this.kv.compact({ revision, physical }, { headers }));
  status = () => this.rpc((headers) => this.maint.status({}, { headers }));
  hashKV = (revision: bigint) => this.rpc((headers) => this.maint.hashKV({ revision }, { headers }));
  leaseGrant = (ttl: bigint, id = 0n) => this.rpc((headers) => this.leases.leaseGrant({ TTL: ttl, ID: id }, { headers }));
  leaseRevoke = (id: bigint) => this.rpc((headers) => this.leases.leaseRevoke({ ID: id }, { headers }));
  leaseTimeToLive = (id: bigint, keys: boolean) =>
    this.rpc((headers) => this.leases.leaseTimeToLive({ ID: id, keys }, { headers }));
  leaseLeases = () => this.rpc((headers) => this.leases.leaseLeases({}, { headers }));

  leaseKeepAlive(id: bigint): Promise<LeaseKeepAliveResponse> {
    // A stream's metadata goes in its header block (a server reads it once, at the start).
    return this.rpc(async (headers) => {
      const s = new BidiStream(this.endpoint, Lease.method.leaseKeepAlive, headers);
      try {
        await s.send({ ID: id });
        for await (const r of s) return r;
        throw new MetaStoreError(14, "keep-alive stream ended");
      } finally {
        s.close();
      }
    });
  }

  async watch(r: Init<typeof WatchCreateRequestSchema>, onResponse: (w: WatchResponse) => void,
    onEnd?: (err: MetaStoreError) => void): Promise<WatchHandle> {
    let s!: BidiStream<typeof Watch.method.watch.input, typeof Watch.method.watch.output>;
    const open = async (): Promise<WatchResponse> => {
      s = new BidiStream(this.endpoint, Watch.method.watch, await this.headers());
      await s.send({ requestUnion: { case: "createRequest", value: r } });
      for await (const w of s) return w; // the rest is read below, from the same stream
      throw new MetaStoreError(14, "watch stream ended");
    };
    // The first answer, created or refused. One refused for its token (dropped since the
    // login) is asked again once, after a new login.
    let first = await call(open);
    if (first.canceled && this.creds && tokenRefusal(first.cancelReason)) {
      s.close();
      await call(() => this.logIn());
      first = await call(open);
    }
    let cancelled = false;
    onResponse(first);
    if (first.canceled) {
      s.close();
      return { cancel: () => {} };
    }
    (async () => {
      try {
        for await (const w of s) {
          onResponse(w);
          if (w.canceled) {
            cancelled = true;
            return;
          }
        }
        if (!cancelled) onEnd?.(new MetaStoreError(14, "watch stream ended"));
      } catch (e) {
        if (cancelled) return;
        onEnd?.(e instanceof MetaStoreError ? e : new MetaStoreError((e as { code?: number }).code ?? 2, String((e as Error).message)));
      } finally {
        s.close();
      }
    })();
    return {
      cancel: () => {
        cancelled = true;
        s.close();
      },
    };
  }
}
