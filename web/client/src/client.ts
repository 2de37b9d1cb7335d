// A MetaStore (etcd v3 API) client for browsers, shaped like Go's clientv3: unary calls over
// gRPC-Web (@connectrpc/connect-web), Watch and LeaseKeepAlive over WebSocket (grpcws.ts).
// Revisions and lease IDs are int64, so they are bigint. With credentials it logs in as
// clientv3 does: a token on every call, a fresh login for every stream, and on a token the
// server no longer takes, one new login and one more try.
import { createClient, ConnectError, type CallOptions, type Client } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  Auth, KV, Lease, Maintenance, Watch,
  RangeRequest_SortOrder, RangeRequest_SortTarget,
  type RangeResponse, type PutResponse, type DeleteRangeResponse, type TxnResponse, type TxnRequestSchema,
  type LeaseTimeToLiveResponse, type StatusResponse, type WatchResponse,
  type AuthenticateResponse, type AuthStatusResponse, type AuthUserGetResponse, type AuthUserListResponse,
  type AuthRoleGetResponse, type AuthRoleListResponse,
} from "./gen/etcd/api/etcdserverpb/rpc_pb.js";
import { Event_EventType, type Event, type KeyValue } from "./gen/etcd/api/mvccpb/kv_pb.js";
import { Permission_Type, type Permission } from "./gen/etcd/api/authpb/auth_pb.js";
import { BidiStream, GrpcError } from "./grpcws.js";

export { GrpcError, Event_EventType, RangeRequest_SortOrder, RangeRequest_SortTarget, Permission_Type };
export type { Event, KeyValue, RangeResponse, PutResponse, DeleteRangeResponse, TxnResponse, StatusResponse };
export type {
  AuthenticateResponse, AuthStatusResponse, AuthUserGetResponse, AuthUserListResponse, AuthRoleGetResponse,
  AuthRoleListResponse, Permission,
};

const enc = new TextEncoder();
const dec = new TextDecoder();
type Bytes = string | Uint8Array;
const bytes = (b: Bytes): Uint8Array => (typeof b === "string" ? enc.encode(b) : b);

/** The text of a key or value. */
export const text = (b: Uint8Array): string => dec.decode(b);

/** prefixEnd is the range end that selects every key starting with prefix. */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  const end = prefix.slice();
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++;
      return end.slice(0, i + 1);
    }
  }
  return new Uint8Array([0]);
}

/** Any error of the client: the gRPC code and etcd's message ("etcdserver: ..."). */
export class MetaStoreError extends Error {
  constructor(readonly code: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MetaStoreError";
  }
}

/** Thrown by a watch whose start revision was compacted away: re-read, then watch again. */
export class CompactedError extends MetaStoreError {
  constructor(readonly compactRevision: bigint) {
    super(11, "etcdserver: mvcc: required revision has been compacted");
    this.name = "CompactedError";
  }
}

/** Runs f, turning transport errors into MetaStoreError (gRPC code, etcd text). */
export async function call<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof ConnectError) throw new MetaStoreError(e.code, e.rawMessage, { cause: e.cause });
    if (e instanceof GrpcError) throw new MetaStoreError(e.code, e.message);
    throw e;
  }
}

// etcd's answers to a token it no longer takes (expired, dropped by a password change or by
// auth being turned off and on, or older than a change of the auth store), on which clientv3
// logs in again and retries; and to a call without a token, which it retries too when it has
// credentials (auth was turned on after it logged in).
const tokenErrors = new Set([
  "etcdserver: invalid auth token",
  "etcdserver: revision of auth store is old",
  "etcdserver: user name is empty",
]);
const isTokenError = (e: unknown) => (e instanceof MetaStoreError || e instanceof GrpcError) && tokenErrors.has(e.message);

// The server's answer to a login while its auth is off: clientv3 then goes on without a token.
const errAuthNotEnabled = "etcdserver: authentication is not enabled";

/** Whether a failed call never reached the server (fetch failed, or a proxy said it is down). */
const unreachable = (e: unknown) => e instanceof MetaStoreError && (e.code === 14 || e.cause instanceof TypeError);

// gRPC's code names, by number, as Go's status errors spell them.
const codeNames = [
  "OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound", "AlreadyExists",
  "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented",
  "Internal", "Unavailable", "DataLoss", "Unauthenticated",
];

/**
 * The error of a watch the server canceled: etcd gives the gRPC error as text in
 * cancel_reason ("rpc error: code = PermissionDenied desc = etcdserver: permission denied").
 */
function cancelError(reason: string): MetaStoreError {
  const m = /^rpc error: code = (\w+) desc = ([^]*)$/.exec(reason);
  const code = m ? codeNames.indexOf(m[1]) : -1;
  return m && code > 0 ? new MetaStoreError(code, m[2]) : new MetaStoreError(9, reason || "watch canceled");
}

export interface MetaStoreOptions {
  /**
   * Credentials for etcd's auth. With both given (non-empty, as clientv3), the client logs in
   * (Auth.Authenticate) before its first call and sends the token on every call and stream.
   * If the server's auth is off, it goes on without a token.
   */
  username?: string;
  password?: string;
}

export interface GetOptions {
  prefix?: boolean;
  rangeEnd?: Bytes;
  revision?: bigint;
  limit?: bigint;
  keysOnly?: boolean;
  countOnly?: boolean;
  sortOrder?: RangeRequest_SortOrder;
  sortTarget?: RangeRequest_SortTarget;
  serializable?: boolean;
}

export interface WatchOptions {
  prefix?: boolean;
  rangeEnd?: Bytes;
  /** Deliver from this revision on (history first); default: from now. */
  startRevision?: bigint;
  prevKv?: boolean;
  signal?: AbortSignal;
}

/** One delivery of a watch: the events of one or more revisions. */
export interface WatchBatch {
  revision: bigint;
  events: Event[];
}

export class MetaStore {
  private readonly kv: Client<typeof KV>;
  private readonly leases: Client<typeof Lease>;
  private readonly maint: Client<typeof Maintenance>;
  private readonly authc: Client<typeof Auth>;
  private readonly creds?: { name: string; password: string };
  /** The latest login: its token ("" when the server's auth is off). */
  private session?: Promise<string>;

  /**
   * baseUrl is the server's client URL, e.g. location.origin when the page is served by it.
   * The token travels in a request header: use https:// unless the server is on this machine.
   */
  constructor(readonly baseUrl: string, o: MetaStoreOptions = {}) {
    const transport = createGrpcWebTransport({ baseUrl, useBinaryFormat: true });
    this.kv = createClient(KV, transport);
    this.leases = createClient(Lease, transport);
    this.maint = createClient(Maintenance, transport);
    this.authc = createClient(Auth, transport);
    if (o.username && o.password) this.creds = { name: o.username, password: o.password };
  }

  /** Logs in afresh; the token becomes the one every later call sends. */
  private login(): Promise<string> {
    const { name, password } = this.creds!;
    const p = call(() => this.authc.authenticate({ name, password })).then(
      (r) => r.token,
      (e) => {
        if (e instanceof MetaStoreError && e.message === errAuthNotEnabled) return "";
        throw e;
      },
    );
    this.session = p;
    // A failed login is not kept: the next call tries again.
    p.catch(() => {
      if (this.session === p) this.session = undefined;
    });
    return p;
  }

  /**
   * Makes a unary call with the token, logging in first if need be. If the server no longer
   * takes the token, logs in again (unless another call already has) and tries once more.
   */
  private async rpc<T>(f: (o: CallOptions) => Promise<T>): Promise<T> {
    if (!this.creds) return call(() => f({}));
    for (let retried = false; ; retried = true) {
      const session = this.session ?? this.login();
      const token = await session;
      try {
        return await call(() => f(token ? { headers: { token } } : {}));
      } catch (e) {
        if (retried || !isTokenError(e)) throw e;
        if (this.session === session) this.login();
      }
    }
  }

  /** The headers of a new stream: as clientv3, a fresh login for each. */
  private async streamHeaders(): Promise<Record<string, string>> {
    if (!this.creds) return {};
    const token = await this.login();
    return token ? { token } : {};
  }

  get(key: Bytes, o: GetOptions = {}): Promise<RangeResponse> {
    const k = bytes(key);
    return this.rpc((c) => this.kv.range({
      key: k, rangeEnd: o.prefix ? prefixEnd(k) : o.rangeEnd ? bytes(o.rangeEnd) : undefined,
      revision: o.revision, limit: o.limit, keysOnly: o.keysOnly, countOnly: o.countOnly,
      sortOrder: o.sortOrder, sortTarget: o.sortTarget, serializable: o.serializable,
    }, c));
  }

  put(key: Bytes, value: Bytes, o: { lease?: bigint; prevKv?: boolean } = {}): Promise<PutResponse> {
    return this.rpc((c) => this.kv.put({ key: bytes(key), value: bytes(value), lease: o.lease, prevKv: o.prevKv }, c));
  }

  delete(key: Bytes, o: { prefix?: boolean; prevKv?: boolean } = {}): Promise<DeleteRangeResponse> {
    const k = bytes(key);
    return this.rpc((c) => this.kv.deleteRange({ key: k, rangeEnd: o.prefix ? prefixEnd(k) : undefined, prevKv: o.prevKv }, c));
  }

  /** Runs a transaction given as etcd's TxnRequest. */
  txn(req: MessageInitShape<typeof TxnRequestSchema>): Promise<TxnResponse> {
    return this.rpc((c) => this.kv.txn(req, c));
  }

  /** Compacts the history before revision; physical: answers once the old revisions are gone from the backend. */
  compact(revision: bigint, o: { physical?: boolean } = {}): Promise<unknown> {
    return this.rpc((c) => this.kv.compact({ revision, physical: o.physical }, c));
  }

  status(): Promise<StatusResponse> {
    return this.rpc((c) => this.maint.status({}, c));
  }

  readonly lease = {
    grant: (ttl: bigint | number, id: bigint = 0n) =>
      this.rpc((c) => this.leases.leaseGrant({ TTL: BigInt(ttl), ID: id }, c)),
    revoke: (id: bigint) => this.rpc((c) => this.leases.leaseRevoke({ ID: id }, c)),
    timeToLive: (id: bigint, keys = false): Promise<LeaseTimeToLiveResponse> =>
      this.rpc((c) => this.leases.leaseTimeToLive({ ID: id, keys }, c)),
    leases: () => this.rpc((c) => this.leases.leaseLeases({}, c)),
    /**
     * Keeps a lease alive, renewing it every third of its TTL, until stop() is called or the
     * lease is gone or cannot be renewed (onExpired is then called, with the error if any).
     * A stream the server ends because of its token is opened again once, with a fresh login.
     */
    keepAlive: (id: bigint, onExpired?: (err?: Error) => void) => {
      let stopped = false;
      let stream: BidiStream<typeof Lease.method.leaseKeepAlive.input, typeof Lease.method.leaseKeepAlive.output> | undefined;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stop = () => {
        stopped = true;
        clearTimeout(timer);
        stream?.close();
      };
      (async () => {
        for (let retried = false; !stopped; retried = true) {
          try {
            const headers = await this.streamHeaders();
            if (stopped) return;
            const s = (stream = new BidiStream(this.baseUrl, Lease.method.leaseKeepAlive, headers));
            const tick = () => {
              if (!stopped) s.send({ ID: id }).catch(() => {}); // a failed socket ends the loop below
            };
            tick();
            for await (const r of s) {
              if (r.TTL <= 0n) {
                stop();
                onExpired?.();
                return;
              }
              retried = false;
              timer = setTimeout(tick, Math.max(500, (Number(r.TTL) * 1000) / 3));
            }
            throw new MetaStoreError(14, "keep-alive stream ended");
          } catch (e) {
            if (stopped) return;
            clearTimeout(timer);
            stream?.close();
            if (!retried && this.creds && isTokenError(e)) continue;
            stop();
            onExpired?.(e instanceof GrpcError ? new MetaStoreError(e.code, e.message) : (e as Error));
            return;
          }
        }
      })();
      return { stop };
    },
  };

  /**
   * etcd's Auth service. With auth on, all but authenticate need the root role (userGet of
   * oneself and roleGet of one's own role excepted). Passwords and tokens are secrets: use TLS.
   */
  readonly auth = {
    /** A token for name; the client's own calls use the credentials it was made with. */
    authenticate: (name: string, password: string): Promise<AuthenticateResponse> =>
      call(() => this.authc.authenticate({ name, password })),
    status: (): Promise<AuthStatusResponse> => this.rpc((c) => this.authc.authStatus({}, c)),
    /** Turns auth on: needs the user root with the role root. */
    enable: () => this.rpc((c) => this.authc.authEnable({}, c)),
    /** Turns auth off; every token is dropped. */
    disable: () => this.rpc((c) => this.authc.authDisable({}, c)),
    userAdd: (name: string, password: string, o: { noPassword?: boolean } = {}) =>
      this.rpc((c) => this.authc.userAdd({ name, password, options: { noPassword: o.noPassword ?? false } }, c)),
    userGet: (name: string): Promise<AuthUserGetResponse> => this.rpc((c) => this.authc.userGet({ name }, c)),
    userList: (): Promise<AuthUserListResponse> => this.rpc((c) => this.authc.userList({}, c)),
    userDelete: (name: string) => this.rpc((c) => this.authc.userDelete({ name }, c)),
    /** Changes a password; the user's tokens are dropped. */
    userChangePassword: (name: string, password: string) =>
      this.rpc((c) => this.authc.userChangePassword({ name, password }, c)),
    userGrantRole: (user: string, role: string) => this.rpc((c) => this.authc.userGrantRole({ user, role }, c)),
    userRevokeRole: (name: string, role: string) => this.rpc((c) => this.authc.userRevokeRole({ name, role }, c)),
    roleAdd: (name: string) => this.rpc((c) => this.authc.roleAdd({ name }, c)),
    roleGet: (role: string): Promise<AuthRoleGetResponse> => this.rpc((c) => this.authc.roleGet({ role }, c)),
    roleList: (): Promise<AuthRoleListResponse> => this.rpc((c) => this.authc.roleList({}, c)),
    roleDelete: (role: string) => this.rpc((c) => this.authc.roleDelete({ role }, c)),
    /**
     * Lets a role read, write or both a key, a prefix, or [key, rangeEnd) (rangeEnd "\0": every
     * key from key on).
     */
    roleGrantPermission: (role: string, key: Bytes, permType: Permission_Type, o: { prefix?: boolean; rangeEnd?: Bytes } = {}) => {
      const k = bytes(key);
      const rangeEnd = o.prefix ? prefixEnd(k) : o.rangeEnd ? bytes(o.rangeEnd) : undefined;
      return this.rpc((c) => this.authc.roleGrantPermission({ name: role, perm: { permType, key: k, rangeEnd } }, c));
    },
    /** Takes back what was granted on exactly this key or range. */
    roleRevokePermission: (role: string, key: Bytes, o: { prefix?: boolean; rangeEnd?: Bytes } = {}) => {
      const k = bytes(key);
      const rangeEnd = o.prefix ? prefixEnd(k) : o.rangeEnd ? bytes(o.rangeEnd) : undefined;
      return this.rpc((c) => this.authc.roleRevokePermission({ role, key: k, rangeEnd }, c));
    },
  };

  /**
   * Watches a key or range. Each batch holds the events of one or more revisions, in order.
   * If the connection drops, it reconnects from the revision after the last one seen, so no
   * event is lost or repeated; if that revision was compacted away it throws CompactedError.
   * A watch the server refuses (e.g. "etcdserver: permission denied") throws MetaStoreError.
   */
  async *watch(key: Bytes, o: WatchOptions = {}): AsyncGenerator<WatchBatch> {
    const k = bytes(key);
    const rangeEnd = o.prefix ? prefixEnd(k) : o.rangeEnd ? bytes(o.rangeEnd) : undefined;
    let next = o.startRevision ?? 0n;
    let retriedAuth = false;
    for (let attempt = 0; !o.signal?.aborted; attempt++) {
      let stream: BidiStream<typeof Watch.method.watch.input, typeof Watch.method.watch.output> | undefined;
      const abort = () => stream?.close();
      o.signal?.addEventListener("abort", abort);
      try {
        let headers: Record<string, string>;
        try {
          headers = await this.streamHeaders();
        } catch (e) {
          // A login that did not reach the server is a dropped connection; a refused one is final.
          throw unreachable(e) ? new GrpcError(14, (e as Error).message) : e;
        }
        if (o.signal?.aborted) return;
        stream = new BidiStream(this.baseUrl, Watch.method.watch, headers);
        await stream.send({
          requestUnion: { case: "createRequest", value: { key: k, rangeEnd, startRevision: next, prevKv: o.prevKv } },
        });
        for await (const r of stream as AsyncIterable<WatchResponse>) {
          if (r.created && next === 0n) next = (r.header?.revision ?? 0n) + 1n;
          if (r.compactRevision > 0n) throw new CompactedError(r.compactRevision);
          if (r.canceled) throw cancelError(r.cancelReason);
          if (r.created) retriedAuth = false;
          if (r.events.length === 0) continue;
          attempt = 0;
          next = r.events[r.events.length - 1].kv!.modRevision + 1n;
          yield { revision: r.header?.revision ?? 0n, events: r.events };
        }
      } catch (e) {
        if (o.signal?.aborted) return;
        // Refused for its token (changed between the login and the create): once more, with a
        // fresh login.
        if (this.creds && !retriedAuth && isTokenError(e)) {
          retriedAuth = true;
          continue;
        }
        if (e instanceof MetaStoreError) throw e;
        // The connection dropped: retry from where we were, backing off a little.
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
      } finally {
        o.signal?.removeEventListener("abort", abort);
        stream?.close();
      }
    }
  }
}
