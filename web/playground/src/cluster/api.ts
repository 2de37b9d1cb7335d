// The in-tab cluster as the console and the panels see it: an Api (like the single store's
// and a server's) that talks to one member, as etcdctl --endpoints=http://m2:2379 does.
// Requests go through the cluster's worker (client.ts) in the gateway's JSON shapes, as the
// single store's do (TabApi), with the member named; watches come back as the worker's
// pushed responses. Auth is not offered here (the single store and a server have it).
import { create, fromJson, toJson } from "@bufbuild/protobuf";
import {
  MemberAddResponseSchema, MemberListResponseSchema, MemberPromoteResponseSchema, MemberRemoveResponseSchema,
  MemberUpdateResponseSchema, MoveLeaderResponseSchema, WatchCreateRequestSchema, WatchResponseSchema,
  type WatchResponse,
} from "../../../client/src/gen/etcd/api/etcdserverpb/rpc_pb.js";
import { MetaStoreError, TabApi, type Api, type Credentials, type Init, type WatchHandle } from "../api.js";
import type { Bridge, CallError } from "../bridge.js";
import type { ClusterClient } from "./client.js";

const jsonOpts = { useProtoFieldName: true, enumAsInteger: true } as const;

/** A member's name from what etcdctl's --endpoints takes: http://m2:2379, m2:2379 or m2. */
export function memberOf(endpoint: string): string {
  const t = endpoint.trim();
  try {
    return new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(t) ? t : `http://${t}`).hostname;
  } catch {
    return t;
  }
}

/** The client URL a member gives (wasm/cluster.ClientURL). */
export const clientURL = (member: string) => `http://${member}:2379`;

/** A bridge to one member: the worker's call, with the member named in every request. */
function memberBridge(c: ClusterClient, member: string): Bridge {
  return {
    call: async (method: string, json: string) => {
      if (method.startsWith("auth.")) {
        throw { code: 12, message: "auth is not offered by the in-tab cluster: the single store in this tab and a server have it" } as CallError;
      }
      return JSON.stringify(await c.call(method, { ...JSON.parse(json), member }));
    },
    putMany: async () => {
      throw { code: 12, message: "the in-tab cluster has no bulk path" } as CallError;
    },
  };
}

export class ClusterApi extends TabApi {
  override readonly mode = "cluster" as const;
  override readonly tab = undefined;

  constructor(readonly cluster: ClusterClient, readonly member: string) {
    super(memberBridge(cluster, member), "", undefined, clientURL(member));
  }

  override memberList = (linearizable = false) => this.plain("member.list", { linearizable }, MemberListResponseSchema);
  override memberAdd = (peerURLs: string[], isLearner: boolean) => this.plain("member.add", { peerURLs, isLearner }, MemberAddResponseSchema);
  override memberRemove = (id: bigint) => this.plain("member.remove", { ID: String(id) }, MemberRemoveResponseSchema);
  override memberUpdate = (id: bigint, peerURLs: string[]) => this.plain("member.update", { ID: String(id), peerURLs }, MemberUpdateResponseSchema);
  override memberPromote = (id: bigint) => this.plain("member.promote", { ID: String(id) }, MemberPromoteResponseSchema);
  override moveLeader = (targetID: bigint) => this.plain("move-leader", { targetID: String(targetID) }, MoveLeaderResponseSchema);

  /** Another member of the same cluster (etcdctl's --endpoints, --cluster). */
  override at(endpoint: string): Api {
    const m = memberOf(endpoint);
    if (m === this.member) return this;
    if (!this.cluster.state?.out.members.some((x) => x.name === m)) {
      throw new MetaStoreError(14, `the in-tab cluster has no member at ${endpoint} (its members: ${this.cluster.state?.out.members.map((x) => clientURL(x.name)).join(", ")})`);
    }
    return new ClusterApi(this.cluster, m);
  }

  /** No auth here: every client is the page's. */
  override async client(_creds?: Credentials): Promise<Api> {
    return this;
  }

  override async watch(r: Init<typeof WatchCreateRequestSchema>, onResponse: (w: WatchResponse) => void,
    onEnd?: (err: MetaStoreError) => void): Promise<WatchHandle> {
    const req = toJson(WatchCreateRequestSchema, create(WatchCreateRequestSchema, r), jsonOpts);
    const { stream } = (await this.ask("watch.create", req)) as { stream: string };
    let done = false;
    const end = () => {
      done = true;
      this.cluster.unwatch(stream);
    };
    this.cluster.watch(stream, (j) => {
      if (done) return;
      const w = fromJson(WatchResponseSchema, j as never, { ignoreUnknownFields: true });
      if (w.canceled && !w.created) {
        end();
        // A member that stopped ends its watches, as a server going away does.
        if (w.cancelReason.startsWith("the watch ended")) onEnd?.(new MetaStoreError(14, w.cancelReason));
        else onResponse(w);
        return;
      }
      onResponse(w);
    });
    return {
      cancel: () => {
        if (done) return;
        end();
        void this.ask("watch.cancel", { stream }).catch(() => {});
      },
    };
  }
}
