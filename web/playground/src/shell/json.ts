// etcdctl's -w json is Go's encoding/json over etcd's gogo-generated structs: fields in
// declaration order under their proto names, every field omitempty, 64-bit integers as JSON
// numbers, bytes as base64, enums as numbers, and a oneof as {"GoName":{"proto_name":…}}.
// This walks a protobuf-es descriptor to write exactly that, for any message.
import { ScalarType, type DescField, type DescMessage, type DescOneof } from "@bufbuild/protobuf";
import { base64, jsonString } from "./gofmt.js";

type Any = Record<string, unknown>;

/** A JSON object from already-encoded values, keys in the given order. */
export const object = (entries: [string, string][]): string =>
  "{" + entries.map(([k, v]) => jsonString(k) + ":" + v).join(",") + "}";

/** encoding/json of the message. */
export function goJSON(desc: DescMessage, msg: unknown): string {
  return object(goFields(desc, msg));
}

/** The message's non-empty fields as [name, json], e.g. to flatten an embedded struct. */
export function goFields(desc: DescMessage, msg: unknown): [string, string][] {
  const m = (msg ?? {}) as Any;
  const out: [string, string][] = [];
  for (const member of desc.members) {
    if (member.kind === "oneof") {
      out.push([goName(member), oneof(member, m[member.localName] as { case?: string; value?: unknown })]);
      continue;
    }
    const v = field(member, m[member.localName]);
    if (v !== undefined) out.push([member.name, v]);
  }
  return out;
}

// The Go field of a oneof is the CamelCase of its name: request_union → RequestUnion.
const goName = (o: DescOneof): string =>
  o.name.split("_").map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join("");

function oneof(o: DescOneof, v: { case?: string; value?: unknown } | undefined): string {
  if (!v || v.case === undefined) return "null"; // a nil interface
  const f = o.fields.find((x) => x.localName === v.case);
  if (!f) return "null";
  const inner = field(f, v.value);
  return object(inner === undefined ? [] : [[f.name, inner]]);
}

/** The field's JSON, or undefined when omitempty drops it. */
function field(f: DescField, v: unknown): string | undefined {
  switch (f.fieldKind) {
    case "scalar":
      return isEmpty(v) ? undefined : scalar(f.scalar, v);
    case "enum":
      return isEmpty(v) ? undefined : String(v);
    case "message":
      return v === undefined || v === null ? undefined : goJSON(f.message, v);
    case "list": {
      const list = (v ?? []) as unknown[];
      if (list.length === 0) return undefined;
      const items = list.map((x) =>
        f.listKind === "message" ? goJSON(f.message, x) : f.listKind === "enum" ? String(x) : scalar(f.scalar, x));
      return "[" + items.join(",") + "]";
    }
    case "map": {
      const obj = (v ?? {}) as Any;
      const keys = Object.keys(obj).sort();
      if (keys.length === 0) return undefined;
      return object(keys.map((k) => {
        const x = obj[k];
        const enc = f.mapKind === "message" ? goJSON(f.message, x) : f.mapKind === "enum" ? String(x) : scalar(f.scalar, x);
        return [k, enc];
      }));
    }
  }
}

function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === 0n || v === "") return true;
  return v instanceof Uint8Array && v.length === 0;
}

function scalar(t: ScalarType, v: unknown): string {
  switch (t) {
    case ScalarType.BYTES:
      return '"' + base64(v as Uint8Array) + '"';
    case ScalarType.STRING:
      return jsonString(v as string);
    case ScalarType.BOOL:
      return v ? "true" : "false";
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return floatJSON(v as number);
    default:
      return String(v); // integers, bigint or number: exact
  }
}

// encoding/json's float format: %f for 1e-6 ≤ |x| < 1e21, else %e with a two-digit exponent.
function floatJSON(x: number): string {
  if (!Number.isFinite(x)) return "null";
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-6 || a >= 1e21)) return x.toExponential().replace(/e([+-])(\d)$/, "e$10$2");
  return String(x);
}
