// A MetaStore (etcd v3 API) client for browsers, shaped like Go's clientv3: unary calls over
// gRPC-Web (@connectrpc/connect-web), Watch and LeaseKeepAlive over WebSocket (grpcws.ts).
// Revisions and lease IDs are int64, so they are bigint.
import { createClient, ConnectError, type Client } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  KV, Lease, Maintenance, Watch,
  RangeRequest_SortOrder, RangeRequest_SortTarget,
  type RangeResponse, type PutResponse, type DeleteRangeResponse, type TxnResponse, type TxnRequestSchema,
  type LeaseTimeToLiveResponse, type StatusResponse, type WatchResponse,
} from "./gen/etcd/api/etcdserverpb/rpc_pb.js";
import { Event_EventType, type Event, type KeyValue } from "./gen/etcd/api/mvccpb/kv_pb.js";
import { BidiStream, GrpcError } from "./grpcws.js";

export { GrpcError, Event_EventType, RangeRequest_SortOrder, RangeRequest_SortTarget };
export type { Event, KeyValue, RangeResponse, PutResponse, DeleteRangeResponse, TxnResponse, StatusResponse };

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
  constructor(readonly code: number, message: string) {
    super(message);
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
    if (e instanceof ConnectError) throw new MetaStoreError(e.code, e.rawMessage);
    if (e instanceof GrpcError) throw new MetaStoreError(e.code, e.message);
    throw e;
  }
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

  /** baseUrl is the server's client URL, e.g. location.origin when the page is served by it. */
  constructor(readonly baseUrl: string) {
    const transport = createGrpcWebTransport({ baseUrl, useBinaryFormat: true });
    this.kv = createClient(KV, transport);
    this.leases = createClient(Lease, transport);
    this.maint = createClient(Maintenance, transport);
  }

  get(key: Bytes, o: GetOptions = {}): Promise<RangeResponse> {
    const k = bytes(key);
    return call(() => this.kv.range({
      key: k, rangeEnd: o.prefix ? prefixEnd(k) : o.rangeEnd ? bytes(o.rangeEnd) : undefined,
      revision: o.revision, limit: o.limit, keysOnly: o.keysOnly, countOnly: o.countOnly,
      sortOrder: o.sortOrder, sortTarget: o.sortTarget, serializable: o.serializable,
    }));
  }

  put(key: Bytes, value: Bytes, o: { lease?: bigint; prevKv?: boolean } = {}): Promise<PutResponse> {
    return call(() => this.kv.put({ key: bytes(key), value: bytes(value), lease: o.lease, prevKv: o.prevKv }));
  }

  delete(key: Bytes, o: { prefix?: boolean; prevKv?: boolean } = {}): Promise<DeleteRangeResponse> {
    const k = bytes(key);
    return call(() => this.kv.deleteRange({ key: k, rangeEnd: o.prefix ? prefixEnd(k) : undefined, prevKv: o.prevKv }));
  }

  /** Runs a transaction given as etcd's TxnRequest. */
  txn(req: MessageInitShape<typeof TxnRequestSchema>): Promise<TxnResponse> {
    return call(() => this.kv.txn(req));
  }

  compact(revision: bigint): Promise<unknown> {
    return call(() => this.kv.compact({ revision }));
  }

  status(): Promise<StatusResponse> {
    return call(() => this.maint.status({}));
  }

  readonly lease = {
    grant: (ttl: bigint | number, id: bigint = 0n) =>
      call(() => this.leases.leaseGrant({ TTL: BigInt(ttl), ID: id })),
    revoke: (id: bigint) => call(() => this.leases.leaseRevoke({ ID: id })),
    timeToLive: (id: bigint, keys = false): Promise<LeaseTimeToLiveResponse> =>
      call(() => this.leases.leaseTimeToLive({ ID: id, keys })),
    leases: () => call(() => this.leases.leaseLeases({})),
    /**
     * Keeps a lease alive, renewing it every third of its TTL, until stop() is called or the
     * lease is gone (onExpired is then called).
     */
    keepAlive: (id: bigint, onExpired?: () => void) => {
      const stream = new BidiStream(this.baseUrl, Lease.method.leaseKeepAlive);
      let stopped = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const tick = async () => {
        if (stopped) return;
        await stream.send({ ID: id });
      };
      (async () => {
        try {
          for await (const r of stream) {
            if (r.TTL <= 0n) {
              stopped = true;
              stream.close();
              onExpired?.();
              return;
            }
            timer = setTimeout(tick, Math.max(500, (Number(r.TTL) * 1000) / 3));
          }
        } catch {
          if (!stopped) onExpired?.();
        }
      })();
      tick();
      return {
        stop: () => {
          stopped = true;
          clearTimeout(timer);
          stream.close();
        },
      };
    },
  };

  /**
   * Watches a key or range. Each batch holds the events of one or more revisions, in order.
   * If the connection drops, it reconnects from the revision after the last one seen, so no
   * event is lost or repeated; if that revision was compacted away it throws CompactedError.
   */
  async *watch(key: Bytes, o: WatchOptions = {}): AsyncGenerator<WatchBatch> {
    const k = bytes(key);
    const rangeEnd = o.prefix ? prefixEnd(k) : o.rangeEnd ? bytes(o.rangeEnd) : undefined;
    let next = o.startRevision ?? 0n;
    for (let attempt = 0; !o.signal?.aborted; attempt++) {
      const stream = new BidiStream(this.baseUrl, Watch.method.watch);
      const abort = () => stream.close();
      o.signal?.addEventListener("abort", abort);
      try {
        await stream.send({
          requestUnion: { case: "createRequest", value: { key: k, rangeEnd, startRevision: next, prevKv: o.prevKv } },
        });
        for await (const r of stream as AsyncIterable<WatchResponse>) {
          if (r.created && next === 0n) next = (r.header?.revision ?? 0n) + 1n;
          if (r.compactRevision > 0n) throw new CompactedError(r.compactRevision);
          if (r.canceled) throw new MetaStoreError(9, r.cancelReason || "watch canceled");
          if (r.events.length === 0) continue;
          attempt = 0;
          next = r.events[r.events.length - 1].kv!.modRevision + 1n;
          yield { revision: r.header?.revision ?? 0n, events: r.events };
        }
      } catch (e) {
        if (e instanceof MetaStoreError || o.signal?.aborted) {
          if (o.signal?.aborted) return;
          throw e;
        }
        // The connection dropped: retry from where we were, backing off a little.
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
      } finally {
        o.signal?.removeEventListener("abort", abort);
        stream.close();
      }
    }
  }
}
