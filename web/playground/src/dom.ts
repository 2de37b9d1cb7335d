// A few DOM helpers: the playground is plain DOM, no framework.

type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | number | boolean | EventListener | undefined>;

/** h creates an element: h("button", {onclick: f, class: "x"}, "text", child...). */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === "function") el.addEventListener(k.replace(/^on/, ""), v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

export const $ = <T extends HTMLElement = HTMLElement>(sel: string, root: ParentNode = document): T => {
  const el = root.querySelector<T>(sel);
  if (!el) throw new Error(`missing ${sel}`);
  return el;
};

import { text as utf8 } from "../../client/src/client.js";

export { prefixEnd } from "../../client/src/client.js";
/** Lease IDs are shown in hex, as etcdctl prints them (%016x). */
export { hex16 as hex } from "./shell/gofmt.js";

const enc = new TextEncoder();
export const bytes = (s: string): Uint8Array => enc.encode(s);
/** The text of a key or value; "" for none. */
export const text = (b: Uint8Array | undefined): string => (b ? utf8(b) : "");

/** The value pretty-printed if it is JSON, as is otherwise. */
export function pretty(v: string): string {
  const t = v.trim();
  if (!(t.startsWith("{") || t.startsWith("["))) return v;
  try {
    return JSON.stringify(JSON.parse(t), null, 2);
  } catch {
    return v;
  }
}

/** The whole keyspace: etcd's key "\0" with range end "\0". */
export const ALL = { key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) };

export function debounce(f: () => void, ms: number): () => void {
  let t: ReturnType<typeof setTimeout> | undefined;
  return () => {
    clearTimeout(t);
    t = setTimeout(f, ms);
  };
}
