// get, put and del: their flags and the request each builds from its arguments, with
// etcdctl's checks and texts (getGetOp, getPutOp, getDelOp) and clientv3's option semantics
// (WithPrefix, WithFromKey, WithSort...). Shared by the commands and by txn's requests.
import type { DeleteRangeRequestSchema, PutRequestSchema, RangeRequestSchema } from "../../../client/src/gen/etcd/api/etcdserverpb/rpc_pb.js";
import { RangeRequest_SortOrder, RangeRequest_SortTarget } from "../../../client/src/gen/etcd/api/etcdserverpb/rpc_pb.js";
import type { Init } from "../api.js";
import type { FlagSpec, FlagValue } from "./args.js";
import { GoError, goQuote, parseInt64, utf8 } from "./gofmt.js";
import { prefixEnd } from "../../../client/src/client.js";

type Values = Record<string, FlagValue>;

const bool = (name: string, usage: string): FlagSpec => ({ name, type: "bool", def: false, usage });
const int = (name: string, usage: string): FlagSpec => ({ name, type: "int64", def: 0n, usage });
const str = (name: string, def: string, usage: string): FlagSpec => ({ name, type: "string", def, usage });

export const GET_FLAGS: FlagSpec[] = [
  str("consistency", "l", "Linearizable(l) or Serializable(s)"),
  str("order", "", "Order of results; ASCEND or DESCEND (ASCEND by default)"),
  str("sort-by", "", "Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION"),
  int("limit", "Maximum number of results"),
  bool("prefix", "Get keys with matching prefix"),
  bool("from-key", "Get keys that are greater than or equal to the given key using byte compare"),
  int("rev", "Specify the kv revision"),
  bool("keys-only", "Get only the keys"),
  bool("count-only", "Get only the count"),
  bool("print-value-only", `Only write values when using the "simple" output format`),
  int("min-create-rev", "Minimum create revision"),
  int("max-create-rev", "Maximum create revision"),
  int("min-mod-rev", "Minimum modification revision"),
  int("max-mod-rev", "Maximum modification revision"),
];

export const PUT_FLAGS: FlagSpec[] = [
  str("lease", "0", "lease ID (in hexadecimal) to attach to the key"),
  bool("prev-kv", "return the previous key-value pair before modification"),
  bool("ignore-value", "updates the key using its current value"),
  bool("ignore-lease", "updates the key using its current lease"),
];

export const DEL_FLAGS: FlagSpec[] = [
  bool("prefix", "delete keys with matching prefix"),
  bool("prev-kv", "return deleted key-value pairs"),
  bool("from-key", "delete keys that are greater than or equal to the given key using byte compare"),
  bool("range", "delete range of keys"),
];

// clientv3's getPrefix: the end of the range of keys starting with a key.
export { prefixEnd };

const ZERO = new Uint8Array([0]);

/** Key and range end for --prefix / --from-key / [range_end], as clientv3 sets them. */
function keyRange(key: string, end: string | undefined, prefix: boolean, fromKey: boolean): { key: Uint8Array; rangeEnd: Uint8Array } {
  let k = utf8(key);
  let e: Uint8Array = end === undefined ? new Uint8Array() : utf8(end);
  if (prefix) {
    if (k.length === 0) (k = ZERO), (e = ZERO);
    else e = prefixEnd(k);
  }
  if (fromKey) {
    if (k.length === 0) k = ZERO;
    e = ZERO;
  }
  return { key: k, rangeEnd: e };
}

export function getRequest(args: string[], v: Values): Init<typeof RangeRequestSchema> {
  if (args.length === 0) throw new GoError("get command needs one argument as key and an optional argument as range_end");
  if (v.prefix && v["from-key"]) throw new GoError("`--prefix` and `--from-key` cannot be set at the same time, choose one");
  if (v["keys-only"] && v["count-only"]) throw new GoError("`--keys-only` and `--count-only` cannot be set at the same time, choose one");
  const consistency = v.consistency as string;
  if (consistency !== "s" && consistency !== "l") throw new GoError(`unknown consistency flag ${goQuote(consistency)}`);
  if (args.length > 1 && (v.prefix || v["from-key"]))
    throw new GoError("too many arguments, only accept one argument when `--prefix` or `--from-key` is set");

  let sortOrder = RangeRequest_SortOrder.NONE;
  const order = (v.order as string).toUpperCase();
  if (order === "ASCEND") sortOrder = RangeRequest_SortOrder.ASCEND;
  else if (order === "DESCEND") sortOrder = RangeRequest_SortOrder.DESCEND;
  else if (order !== "") throw new GoError(`bad sort order ${v.order}`);

  const targets: Record<string, RangeRequest_SortTarget> = {
    "": RangeRequest_SortTarget.KEY, CREATE: RangeRequest_SortTarget.CREATE, KEY: RangeRequest_SortTarget.KEY,
    MODIFY: RangeRequest_SortTarget.MOD, VALUE: RangeRequest_SortTarget.VALUE, VERSION: RangeRequest_SortTarget.VERSION,
  };
  const sortTarget = targets[(v["sort-by"] as string).toUpperCase()];
  if (sortTarget === undefined) throw new GoError(`bad sort target ${v["sort-by"]}`);
  // clientv3.WithSort: ascending by key is the server's own order, so it asks for none.
  if (sortTarget === RangeRequest_SortTarget.KEY && sortOrder === RangeRequest_SortOrder.ASCEND) sortOrder = RangeRequest_SortOrder.NONE;

  const minC = v["min-create-rev"] as bigint, maxC = v["max-create-rev"] as bigint;
  const minM = v["min-mod-rev"] as bigint, maxM = v["max-mod-rev"] as bigint;
  if (maxC > 0n && minC > maxC) throw new GoError(`getMinCreateRev(=${minC}) > getMaxCreateRev(=${maxC})`);
  if (maxM > 0n && minM > maxM) throw new GoError(`getMinModRev(=${minM}) > getMaxModRev(=${maxM})`);

  const rev = v.rev as bigint;
  return {
    ...keyRange(args[0], args.length > 1 ? args[1] : undefined, v.prefix as boolean, v["from-key"] as boolean),
    limit: v.limit as bigint,
    revision: rev > 0n ? rev : 0n,
    sortOrder,
    sortTarget,
    serializable: consistency === "s",
    keysOnly: v["keys-only"] as boolean,
    countOnly: v["count-only"] as boolean,
    minCreateRevision: minC > 0n ? minC : 0n,
    maxCreateRevision: maxC > 0n ? maxC : 0n,
    minModRevision: minM > 0n ? minM : 0n,
    maxModRevision: maxM > 0n ? maxM : 0n,
  };
}

export function putRequest(args: string[], v: Values): Init<typeof PutRequestSchema> {
  const usage = "put command needs 1 argument and input from stdin or 2 arguments";
  if (args.length === 0) throw new GoError(usage);
  if (v["ignore-value"] && args.length > 1) throw new GoError("put command needs only 1 argument when 'ignore-value' is set");
  // There is no stdin here: a value must be an argument.
  if (!v["ignore-value"] && args.length < 2) throw new GoError(usage);
  let lease: bigint;
  try {
    lease = parseInt64(v.lease as string, 16);
  } catch (e) {
    throw new GoError(`bad lease ID (${(e as Error).message}), expecting ID in Hex`);
  }
  return {
    key: utf8(args[0]),
    value: v["ignore-value"] ? new Uint8Array() : utf8(args[1]),
    lease,
    prevKv: v["prev-kv"] as boolean,
    ignoreValue: v["ignore-value"] as boolean,
    ignoreLease: v["ignore-lease"] as boolean,
  };
}

export interface DelOp {
  req: Init<typeof DeleteRangeRequestSchema>;
  /** etcdctl's warning before deleting [key, range_end) without --range; it then waits 2 seconds. */
  warning?: string;
}

export function delRequest(args: string[], v: Values): DelOp {
  if (args.length === 0 || args.length > 2)
    throw new GoError("del command needs one argument as key and an optional argument as range_end");
  if (v.prefix && v["from-key"]) throw new GoError("`--prefix` and `--from-key` cannot be set at the same time, choose one");
  let warning: string | undefined;
  if (args.length > 1) {
    if (v.prefix || v["from-key"])
      throw new GoError("too many arguments, only accept one argument when `--prefix` or `--from-key` is set");
    if (!v.range)
      warning = `Warning: Keys between ${goQuote(args[0])} and ${goQuote(args[1])} will be deleted. Please interrupt the command within next 2 seconds to cancel. ` +
        "You can provide `--range` flag to avoid the delay.";
  }
  return {
    req: {
      ...keyRange(args[0], args.length > 1 ? args[1] : undefined, v.prefix as boolean, v["from-key"] as boolean),
      prevKv: v["prev-kv"] as boolean,
    },
    warning,
  };
}
