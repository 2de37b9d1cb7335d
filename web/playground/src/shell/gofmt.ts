// Go's formatting, as etcdctl's output uses it: strconv's integer parsing and its error texts,
// %q quoting, %016x lease IDs, encoding/json strings, base64, go-humanize's Bytes and
// time.Duration's String. Values that are int64 or uint64 in Go are bigint here.

const enc = new TextEncoder();
const dec = new TextDecoder();

export const utf8 = (s: string): Uint8Array => enc.encode(s);
/** string(b) in Go, as a terminal would show it. */
export const text = (b: Uint8Array): string => dec.decode(b);

/** An error with Go's text; the shell prints it as "Error: <message>". */
export class GoError extends Error {}

/**
 * An error's text as etcdctl prints it. clientv3 turns the errors of etcd's error table into
 * their bare text, and leaves any other status (code Unknown: an error the table lacks, such
 * as a no-password user's login) as gRPC prints it.
 */
export function errorMessage(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  return (e as { code?: unknown }).code === 2 ? `rpc error: code = Unknown desc = ${e.message}` : e.message;
}

const MAX_INT64 = (1n << 63n) - 1n;
const MIN_INT64 = -(1n << 63n);

function digitValue(c: string): number {
  const x = c.toLowerCase().charCodeAt(0);
  if (x >= 48 && x <= 57) return x - 48;
  if (x >= 97 && x <= 122) return x - 97 + 10;
  return 99;
}

/** strconv.ParseInt(s, base, 64), base 0 (prefixes and underscores), 10 or 16. Throws Go's error. */
export function parseInt64(s: string, base: 0 | 10 | 16): bigint {
  const fail = (why: string) => new GoError(`strconv.ParseInt: parsing ${goQuote(s)}: ${why}`);
  let t = s;
  let neg = false;
  if (t.startsWith("+") || t.startsWith("-")) {
    neg = t[0] === "-";
    t = t.slice(1);
  }
  if (t === "") throw fail("invalid syntax");
  let b = base as number;
  let underscores = false;
  if (base === 0) {
    b = 10;
    if (t[0] === "0") {
      const p = t.length >= 3 ? t[1].toLowerCase() : "";
      if (p === "x") (b = 16), (t = t.slice(2));
      else if (p === "o") (b = 8), (t = t.slice(2));
      else if (p === "b") (b = 2), (t = t.slice(2));
      else (b = 8), (t = t.slice(1));
      if (t === "" && b === 8) t = "0";
    }
    underscores = true;
  }
  if (underscores && !underscoreOK(s)) throw fail("invalid syntax");
  let n = 0n;
  let any = false;
  for (const c of t) {
    if (c === "_" && underscores) continue;
    const d = digitValue(c);
    if (d >= b) throw fail("invalid syntax");
    n = n * BigInt(b) + BigInt(d);
    any = true;
  }
  if (!any) throw fail("invalid syntax");
  if (neg) n = -n;
  if (n > MAX_INT64 || n < MIN_INT64) throw fail("value out of range");
  return n;
}

const MAX_UINT64 = (1n << 64n) - 1n;

/** strconv.ParseUint(s, base, 64), base 10 or 16 (no sign, no prefix). Throws Go's error. */
export function parseUint64(s: string, base: 10 | 16): bigint {
  const fail = (why: string) => new GoError(`strconv.ParseUint: parsing ${goQuote(s)}: ${why}`);
  if (s === "") throw fail("invalid syntax");
  let n = 0n;
  // Go's order: a bad digit is a syntax error, and an overflow a range error, where met.
  for (const c of s) {
    const d = digitValue(c);
    if (d >= base) throw fail("invalid syntax");
    n = n * BigInt(base) + BigInt(d);
    if (n > MAX_UINT64) throw fail("value out of range");
  }
  return n;
}

// Go's strconv.underscoreOK: underscores only between digits (or after a base prefix).
function underscoreOK(s: string): boolean {
  let saw = "^";
  let i = 0;
  if (s.length >= 1 && (s[0] === "-" || s[0] === "+")) s = s.slice(1);
  let hex = false;
  if (s.length >= 2 && s[0] === "0" && "bBoOxX".includes(s[1])) {
    i = 2;
    saw = "0";
    hex = "xX".includes(s[1]);
  }
  for (; i < s.length; i++) {
    const c = s[i];
    if ((c >= "0" && c <= "9") || (hex && /[a-fA-F]/.test(c))) {
      saw = "0";
      continue;
    }
    if (c === "_") {
      if (saw !== "0") return false;
      saw = "_";
      continue;
    }
    if (saw === "_") return false;
    saw = "!";
  }
  return saw !== "_";
}

/** strconv.ParseBool. */
export function parseBool(s: string): boolean {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(s)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(s)) return false;
  throw new GoError(`strconv.ParseBool: parsing ${goQuote(s)}: invalid syntax`);
}

/** %016x of an int64 (the width counts the sign, as in Go). */
export function hex16(id: bigint): string {
  return id < 0n ? "-" + (-id).toString(16).padStart(15, "0") : id.toString(16).padStart(16, "0");
}

/** %x */
export const hex = (n: bigint): string => (n < 0n ? "-" + (-n).toString(16) : n.toString(16));

const isPrint = (cp: number): boolean =>
  cp === 0x20 || (cp > 0x20 && /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(String.fromCodePoint(cp)));

function quoteRune(cp: number, out: string[]): void {
  switch (cp) {
    case 0x07: out.push("\\a"); return;
    case 0x08: out.push("\\b"); return;
    case 0x0c: out.push("\\f"); return;
    case 0x0a: out.push("\\n"); return;
    case 0x0d: out.push("\\r"); return;
    case 0x09: out.push("\\t"); return;
    case 0x0b: out.push("\\v"); return;
    case 0x5c: out.push("\\\\"); return;
    case 0x22: out.push('\\"'); return;
  }
  if (isPrint(cp)) out.push(String.fromCodePoint(cp));
  else if (cp < 0x80) out.push("\\x" + cp.toString(16).padStart(2, "0"));
  else if (cp < 0x10000) out.push("\\u" + cp.toString(16).padStart(4, "0"));
  else out.push("\\U" + cp.toString(16).padStart(8, "0"));
}

/** Decodes UTF-8 like Go's range over a string: an invalid byte comes out as -(byte)-1. */
function* runes(b: Uint8Array): Generator<number> {
  for (let i = 0; i < b.length; ) {
    const c = b[i];
    if (c < 0x80) {
      yield c;
      i++;
      continue;
    }
    // [continuation bytes, payload bits of the lead byte, smallest code point of that length]
    const [n, lead, min] = c >= 0xc2 && c < 0xe0 ? [1, c & 0x1f, 0x80]
      : c >= 0xe0 && c < 0xf0 ? [2, c & 0x0f, 0x800]
      : c >= 0xf0 && c < 0xf5 ? [3, c & 0x07, 0x10000]
      : [0, 0, 0];
    let cp = lead;
    let ok = n > 0 && i + n < b.length;
    for (let k = 1; ok && k <= n; k++) {
      if ((b[i + k] & 0xc0) !== 0x80) ok = false;
      else cp = (cp << 6) | (b[i + k] & 0x3f);
    }
    if (ok && (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))) ok = false;
    if (ok) {
      yield cp;
      i += n + 1;
    } else {
      yield -c - 1;
      i++;
    }
  }
}

/** Go's %q (strconv.Quote) of string(b). */
export function goQuoteBytes(b: Uint8Array): string {
  const out: string[] = ['"'];
  for (const r of runes(b)) {
    if (r < 0) out.push("\\x" + (-r - 1).toString(16).padStart(2, "0"));
    else quoteRune(r, out);
  }
  out.push('"');
  return out.join("");
}

export const goQuote = (s: string): string => goQuoteBytes(utf8(s));

/** A string as encoding/json writes it (HTML-safe, invalid UTF-8 as U+FFFD). */
export function jsonString(b: Uint8Array | string): string {
  const bytes = typeof b === "string" ? utf8(b) : b;
  const out: string[] = ['"'];
  for (const r of runes(bytes)) {
    if (r < 0) out.push("\\ufffd");
    else if (r === 0x22) out.push('\\"');
    else if (r === 0x5c) out.push("\\\\");
    else if (r === 0x0a) out.push("\\n");
    else if (r === 0x0d) out.push("\\r");
    else if (r === 0x09) out.push("\\t");
    else if (r === 0x08) out.push("\\b");
    else if (r === 0x0c) out.push("\\f");
    else if (r < 0x20 || r === 0x3c || r === 0x3e || r === 0x26 || r === 0x2028 || r === 0x2029)
      out.push("\\u" + r.toString(16).padStart(4, "0"));
    else out.push(String.fromCodePoint(r));
  }
  out.push('"');
  return out.join("");
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Standard base64 with padding, as encoding/json writes []byte. */
export function base64(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 3) {
    const n = (b[i] << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
    s += B64[(n >> 18) & 63] + B64[(n >> 12) & 63];
    s += i + 1 < b.length ? B64[(n >> 6) & 63] : "=";
    s += i + 2 < b.length ? B64[n & 63] : "=";
  }
  return s;
}

/** \xNN per byte, as etcdctl --hex prints keys and values. */
export const hexBytes = (b: Uint8Array): string =>
  Array.from(b, (x) => "\\x" + x.toString(16).padStart(2, "0")).join("");

/** go-humanize's Bytes: SI units, one decimal below 10. */
export function humanizeBytes(n: bigint): string {
  if (n < 10n) return `${n} B`;
  const sizes = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
  const s = Number(n);
  const e = Math.floor(Math.log(s) / Math.log(1000));
  const val = Math.floor((s / Math.pow(1000, e)) * 10 + 0.5) / 10;
  if (val < 10) return `${val.toFixed(1)} ${sizes[e]}`;
  // %.0f rounds half to even on exact ties (val is k/10, so a tie is k ending in 5).
  const k = Math.round(val * 10);
  let whole = Math.round(val);
  if (k % 10 === 5) {
    const q = (k - 5) / 10;
    whole = q % 2 === 0 ? q : q + 1;
  }
  return `${whole} ${sizes[e]}`;
}

/** time.Duration.String() of a duration in milliseconds (to the nanosecond). */
export function goDuration(ms: number): string {
  const ns = Math.round(ms * 1e6);
  if (ns === 0) return "0s";
  const trim = (v: number, digits: number) => v.toFixed(digits).replace(/\.?0+$/, "");
  if (ns < 1000) return `${ns}ns`;
  if (ns < 1e6) return `${trim(ns / 1e3, 3)}µs`;
  if (ns < 1e9) return `${trim(ns / 1e6, 6)}ms`;
  return `${trim(ns / 1e9, 9)}s`;
}

// time's quote: ASCII as is (with \" and \\), other bytes as \xNN.
function timeQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0x80 || cp < 0x20) out += Array.from(utf8(ch), (b) => "\\x" + b.toString(16).padStart(2, "0")).join("");
    else out += (ch === '"' || ch === "\\" ? "\\" : "") + ch;
  }
  return out + '"';
}

const DURATION_UNITS: Record<string, bigint> = {
  ns: 1n, us: 1000n, "µs": 1000n, "μs": 1000n, ms: 1000000n, s: 1000000000n, m: 60000000000n, h: 3600000000000n,
};

/** time.ParseDuration, in nanoseconds. Throws Go's error. */
export function parseDuration(orig: string): bigint {
  const invalid = () => new GoError(`time: invalid duration ${timeQuote(orig)}`);
  let s = orig;
  let neg = false;
  if (s !== "" && (s[0] === "-" || s[0] === "+")) {
    neg = s[0] === "-";
    s = s.slice(1);
  }
  if (s === "0") return 0n;
  if (s === "") throw invalid();
  const LIMIT = 1n << 63n;
  const isDigit = (c: string | undefined) => c !== undefined && c >= "0" && c <= "9";
  let d = 0n;
  while (s !== "") {
    if (!(s[0] === "." || isDigit(s[0]))) throw invalid();
    let i = 0;
    let v = 0n;
    for (; isDigit(s[i]); i++) {
      v = v * 10n + BigInt(s.charCodeAt(i) - 48);
      if (v > LIMIT) throw invalid(); // leadingInt's overflow
    }
    const pre = i > 0;
    s = s.slice(i);
    let f = 0n;
    let scale = 1;
    let post = false;
    if (s[0] === ".") {
      s = s.slice(1);
      let j = 0;
      let overflow = false;
      for (; isDigit(s[j]); j++) {
        if (overflow) continue;
        if (f > (LIMIT - 1n) / 10n) {
          overflow = true; // leadingFraction ignores the digits it cannot hold
          continue;
        }
        f = f * 10n + BigInt(s.charCodeAt(j) - 48);
        scale *= 10;
      }
      post = j > 0;
      s = s.slice(j);
    }
    if (!pre && !post) throw invalid();
    let k = 0;
    while (k < s.length && s[k] !== "." && !isDigit(s[k])) k++;
    if (k === 0) throw new GoError(`time: missing unit in duration ${timeQuote(orig)}`);
    const u = s.slice(0, k);
    s = s.slice(k);
    const unit = DURATION_UNITS[u];
    if (unit === undefined) throw new GoError(`time: unknown unit ${timeQuote(u)} in duration ${timeQuote(orig)}`);
    if (v > LIMIT / unit) throw invalid();
    v *= unit;
    if (f > 0n) {
      v += BigInt(Math.floor(Number(f) * (Number(unit) / scale)));
      if (v > LIMIT) throw invalid();
    }
    d += v;
    if (d > LIMIT) throw invalid();
  }
  if (neg) return -d;
  if (d > LIMIT - 1n) throw invalid();
  return d;
}
