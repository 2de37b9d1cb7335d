// etcdctl's txn input: compares like mod("k") > "5", then the requests to run on success and
// on failure (put/get/del with their flags), each section ended by an empty line. The
// parsing follows txn_command.go (ParseCompare's Sscanf, parseRequestUnion's Argify).
import type { CompareSchema, RequestOpSchema, TxnRequestSchema } from "../../../client/src/gen/etcd/api/etcdserverpb/rpc_pb.js";
import { Compare_CompareResult, Compare_CompareTarget } from "../../../client/src/gen/etcd/api/etcdserverpb/rpc_pb.js";
import type { Init } from "../api.js";
import { HELP_FLAG, parseFlags } from "./args.js";
import { GoError, goQuote, parseInt64, text, utf8 } from "./gofmt.js";
import { DEL_FLAGS, GET_FLAGS, PUT_FLAGS, delRequest, getRequest, putRequest } from "./kv.js";

export const PROMPTS = ["compares:", "success requests (get, put, del):", "failure requests (get, put, del):"] as const;

/**
 * Each section's syntax, for the input's placeholder: etcdctl's prompts only name the
 * section, and a newcomer at "compares:" cannot guess mod("k") > "0".
 */
export const HINTS = [
  'mod("k") > "0" · value("k") = "v" · version/create/lease("k") · empty line ends',
  "put k v · get k · del k --prefix · empty line ends",
  "put k v · get k · del k · empty line commits",
] as const;

/** Reads a Go quoted string ("..." with escapes, or `raw`) at s[i]; returns it and the index after it. */
function scanQuoted(s: string, i: number): [string, number] | undefined {
  if (s[i] === "`") {
    const end = s.indexOf("`", i + 1);
    return end < 0 ? undefined : [s.slice(i + 1, end), end + 1];
  }
  if (s[i] !== '"') return undefined;
  let j = i + 1;
  for (; j < s.length && s[j] !== '"'; j++) if (s[j] === "\\") j++;
  if (j >= s.length) return undefined;
  const v = unquote(s.slice(i, j + 1));
  return v === undefined ? undefined : [v, j + 1];
}

/** strconv.Unquote of a double-quoted Go string (its bytes read as UTF-8). */
export function unquote(q: string): string | undefined {
  const body = q.slice(1, -1);
  const bytes: number[] = [];
  const simple: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, "\\": 92, '"': 34 };
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c !== "\\") {
      bytes.push(...utf8(String.fromCodePoint(body.codePointAt(i)!)));
      if (body.codePointAt(i)! > 0xffff) i++;
      continue;
    }
    const e = body[++i];
    if (e in simple) bytes.push(simple[e]);
    else if (e === "x" && /^[0-9a-fA-F]{2}$/.test(body.slice(i + 1, i + 3))) {
      bytes.push(parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    }
    else if (/[0-7]/.test(e ?? "") && /^[0-7]{3}$/.test(body.slice(i, i + 3))) {
      const n = parseInt(body.slice(i, i + 3), 8);
      if (n > 255) return undefined;
      bytes.push(n);
      i += 2;
    } else if ((e === "u" || e === "U") && new RegExp(`^[0-9a-fA-F]{${e === "u" ? 4 : 8}}$`).test(body.slice(i + 1, i + 1 + (e === "u" ? 4 : 8)))) {
      const len = e === "u" ? 4 : 8;
      const cp = parseInt(body.slice(i + 1, i + 1 + len), 16);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) return undefined;
      bytes.push(...utf8(String.fromCodePoint(cp)));
      i += len;
    } else return undefined;
  }
  return text(new Uint8Array(bytes));
}

const isSpace = (c: string | undefined) => c === " " || c === "\t" || c === "\r";

/** etcdctl's ParseCompare: target("key") op "value". */
export function parseCompare(line: string): Init<typeof CompareSchema> {
  const lp = line.indexOf("(");
  if (lp < 0) throw new GoError(`malformed comparison: ${line}`);
  const target = line.slice(0, lp);
  const rest = line.slice(lp + 1);
  // fmt.Sscanf(rest, "%q) %s %q", &key, &op, &val)
  let key = "", op = "", val = "", n = 0;
  scan: {
    let i = 0;
    while (isSpace(rest[i])) i++;
    const k = scanQuoted(rest, i);
    if (!k) break scan;
    [key, i] = k;
    n++;
    if (rest[i] !== ")") break scan;
    i++;
    // A space in the format needs one or more in the input (or its end).
    if (i < rest.length && !isSpace(rest[i])) break scan;
    while (isSpace(rest[i])) i++;
    let j = i;
    while (j < rest.length && !isSpace(rest[j])) j++;
    if (j === i) break scan;
    op = rest.slice(i, j);
    n++;
    i = j; // %s stopped at a space or the end, which the format's space needs
    while (isSpace(rest[i])) i++;
    const v = scanQuoted(rest, i);
    if (!v) break scan;
    val = v[0];
    n++;
  }
  if (n !== 3)
    throw new GoError(`malformed comparison: ${line}; got ${target}(${goQuote(key)}) ${op} ${goQuote(val)}`);

  const results: Record<string, Compare_CompareResult> = {
    "=": Compare_CompareResult.EQUAL, "!=": Compare_CompareResult.NOT_EQUAL,
    "<": Compare_CompareResult.LESS, ">": Compare_CompareResult.GREATER,
  };
  const result = results[op];
  // clientv3.Compare panics on any other operator; this says so instead.
  if (result === undefined) throw new GoError(`malformed comparison: ${line} (unknown operator ${op}; use =, !=, < or >)`);

  const int = (base: 10 | 16): bigint => {
    try {
      return parseInt64(val, base);
    } catch {
      throw new GoError(`invalid txn compare request: ${line}`);
    }
  };
  const cmp = { key: utf8(key), result };
  switch (target) {
    case "ver":
    case "version":
      return { ...cmp, target: Compare_CompareTarget.VERSION, targetUnion: { case: "version", value: int(10) } };
    case "c":
    case "create":
      return { ...cmp, target: Compare_CompareTarget.CREATE, targetUnion: { case: "createRevision", value: int(10) } };
    case "m":
    case "mod":
      return { ...cmp, target: Compare_CompareTarget.MOD, targetUnion: { case: "modRevision", value: int(10) } };
    case "val":
    case "value":
      return { ...cmp, target: Compare_CompareTarget.VALUE, targetUnion: { case: "value", value: utf8(val) } };
    case "lease":
      return { ...cmp, target: Compare_CompareTarget.LEASE, targetUnion: { case: "lease", value: int(16) } };
    default:
      throw new GoError(`malformed comparison: ${line} (unknown target ${target})`);
  }
}

const ARGIFY = /"(?:[^"\\]|\\.)*"|'[^']*'|[^'"\s]\S*[^'"\s]?/g;

/** etcdctl's Argify: words, 'single' or "double" (Go-escaped) quoted. */
export function argify(s: string): string[] {
  return (s.match(ARGIFY) ?? []).map((a) => {
    if (a.startsWith("'")) return a.slice(1, -1);
    if (a.startsWith('"')) {
      const v = unquote(a);
      if (v === undefined) throw new GoError("invalid syntax");
      return v;
    }
    return a;
  });
}

export interface ParsedOp {
  op: Init<typeof RequestOpSchema>;
  warning?: string;
}

/** etcdctl's parseRequestUnion: a put, get or del line (prefix matching, as cobra's). */
export function parseOp(line: string): ParsedOp {
  const args = argify(line);
  if (args.length < 2) throw new GoError(`invalid txn compare request: ${line}`);
  const invalid = () => new GoError(`invalid txn request: ${line}`);
  const names = ["del", "get", "put"];
  const name = names.includes(args[0]) ? args[0] : names.filter((n) => n.startsWith(args[0]));
  const cmd = typeof name === "string" ? name : name.length === 1 ? name[0] : undefined;
  if (!cmd) throw invalid();
  const flags = cmd === "get" ? GET_FLAGS : cmd === "put" ? PUT_FLAGS : DEL_FLAGS;
  let p;
  try {
    p = parseFlags(args.slice(1), [...flags, HELP_FLAG]);
  } catch {
    throw invalid();
  }
  if (p.help) throw invalid();
  if (cmd === "get") return { op: { request: { case: "requestRange", value: getRequest(p.args, p.values) } } };
  if (cmd === "put") return { op: { request: { case: "requestPut", value: putRequest(p.args, p.values) } } };
  const d = delRequest(p.args, p.values);
  return { op: { request: { case: "requestDeleteRange", value: d.req } }, warning: d.warning };
}

/** A transaction being read, section by section. */
export class TxnReader {
  /** 0: compares, 1: success requests, 2: failure requests. */
  section = 0;
  readonly compare: Init<typeof CompareSchema>[] = [];
  readonly success: Init<typeof RequestOpSchema>[] = [];
  readonly failure: Init<typeof RequestOpSchema>[] = [];

  get prompt(): string {
    return PROMPTS[this.section];
  }

  get hint(): string {
    return HINTS[this.section];
  }

  /**
   * Takes one input line. Returns true when the last section ended (the txn is ready).
   * Throws GoError on a bad line; onWarning is etcdctl's del-range warning and 2-second wait.
   */
  async feed(raw: string, onWarning: (w: string) => Promise<void>): Promise<boolean> {
    const line = raw.trim();
    if (line === "") return ++this.section > 2;
    if (this.section === 0) {
      this.compare.push(parseCompare(line));
      return false;
    }
    const { op, warning } = parseOp(line);
    if (warning) await onWarning(warning);
    (this.section === 1 ? this.success : this.failure).push(op);
    return false;
  }

  request(): Init<typeof TxnRequestSchema> {
    return { compare: this.compare, success: this.success, failure: this.failure };
  }
}
