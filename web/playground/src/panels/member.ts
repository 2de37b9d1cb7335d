// The member panel (server mode): a live view of the member the page is connected to. Every
// 1.5 s it asks Maintenance.Status (revision, db size, raft index and term, leader) and reads
// the member's /metrics, where the page may (a metastore lets any page it lets connect: the
// same --cors rule), for the rate of unary requests and their mean handling time
// (grpc_server_handled_total and grpc_server_handling_seconds, deltas between two reads). A
// sparkline per series shows the last 60 samples. It polls only while the page shows a server
// (not in the tab: the status line has the tab's revision, and the tab has no raft or
// metrics) and skips its turns while the page is hidden; failures show as a quiet line.
import type { StatusResponse } from "../../../client/src/gen/etcd/api/etcdserverpb/rpc_pb.js";
import type { Api } from "../api.js";
import { h, hex } from "../dom.js";
import { humanizeBytes } from "../shell/gofmt.js";

/** How often the member is asked, and, while it does not answer, how often it is tried again. */
const EVERY_MS = 1500;
const UNREACHABLE_EVERY_MS = 5000;
/** After /metrics could not be read, it is tried again this much later (not every turn). */
const METRICS_RETRY_MS = 30_000;
/** Samples kept (and drawn) per series. */
const KEEP = 60;

/** The member panel: follow(api) shows api's member (a server) or hides the panel (the tab). */
export interface MemberView {
  follow(api: Api): void;
}

/** One Prometheus sample: a metric's name, its labels, its value. */
interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus' text format (comments and timestamps left out). */
export function parseProm(text: string): PromSample[] {
  const out: PromSample[] = [];
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** The sum of a metric over the samples whose labels include where. */
function total(samples: PromSample[], name: string, where: Record<string, string>): number {
  let sum = 0;
  for (const s of samples) {
    if (s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}

/** What /metrics gave at one moment: unary requests handled, and their handling time. */
interface Counters {
  at: number;
  handled: number;
  seconds: number;
  timed: number;
}

const SVG = "http://www.w3.org/2000/svg";
const W = 80;
const H = 20;

/** A sparkline: the last KEEP values, scaled between their min and max, newest on the right. */
function sparkline(label: string): { el: SVGSVGElement; draw(values: number[]): void } {
  const el = document.createElementNS(SVG, "svg");
  el.setAttribute("viewBox", `0 0 ${W} ${H}`);
  el.setAttribute("width", String(W));
  el.setAttribute("height", String(H));
  el.setAttribute("role", "img");
  el.setAttribute("aria-label", `${label}, the last ${KEEP} samples`);
  el.setAttribute("class", "spark");
  const line = document.createElementNS(SVG, "polyline");
  el.append(line);
  return {
    el,
    draw(values) {
      // A flat series is drawn across the middle.
      const min = Math.min(...values);
      const span = Math.max(...values) - min;
      const y = (v: number) => (span === 0 ? H / 2 : H - 2 - ((v - min) / span) * (H - 4));
      const step = (W - 2) / (KEEP - 1);
      const x0 = W - 1 - (values.length - 1) * step;
      line.setAttribute("points", values.map((v, i) =>
        `${(x0 + i * step).toFixed(1)},${y(v).toFixed(1)}`).join(" "));
      el.dataset.points = String(values.length);
    },
  };
}

/** A figure: its caption, its current value as text (read by label), and maybe its chart. */
function figure(caption: string, label: string, chart?: ReturnType<typeof sparkline>): { el: HTMLElement; value: HTMLOutputElement } {
  // An <output> is a live region: aria-live="off" keeps a screen reader from reading every turn.
  const value = h("output", { "aria-label": label, "aria-live": "off", class: "mono" }, "—");
  return { el: h("div", { class: "fig" }, h("span", { class: "label" }, caption), value, chart?.el), value };
}

export function memberPanel(root: HTMLElement): MemberView {
  const series = {
    revision: sparkline("member revision"),
    size: sparkline("member db size"),
    rate: sparkline("member request rate"),
    latency: sparkline("member request latency"),
  };
  const values: Record<keyof typeof series, number[]> = { revision: [], size: [], rate: [], latency: [] };
  const f = {
    revision: figure("revision", "member revision", series.revision),
    size: figure("db size", "member db size", series.size),
    inUse: figure("in use", "member db size in use"),
    rate: figure("requests", "member request rate", series.rate),
    latency: figure("latency", "member request latency", series.latency),
    index: figure("raft index", "member raft index"),
    term: figure("raft term", "member raft term"),
    leader: figure("leader", "member leader"),
  };
  const state = h("output", { class: "muted", "aria-label": "member panel state", "aria-live": "off" });
  root.append(h("span", { class: "label" }, "Member"), ...Object.values(f).map((x) => x.el), state);

  let gen = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let last: Counters | undefined;
  let metricsRetryAt = 0;
  let metricsWhy = "";

  const set = (el: HTMLElement, text: string) => {
    if (el.textContent !== text) el.textContent = text;
  };
  const push = (k: keyof typeof series, v: number) => {
    const a = values[k];
    a.push(v);
    if (a.length > KEEP) a.shift();
    series[k].draw(a);
  };

  /** Reads /metrics, or says why not (quietly: the panel goes on with Status alone). */
  async function counters(api: Api): Promise<Counters | undefined> {
    if (performance.now() < metricsRetryAt) return undefined;
    try {
      const resp = await fetch(`${api.endpoint}/metrics`, { credentials: "omit", signal: AbortSignal.timeout(5000) });
      if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
      const samples = parseProm(await resp.text());
      metricsWhy = "";
      const unary = { grpc_type: "unary" };
      return {
        at: performance.now(),
        handled: total(samples, "grpc_server_handled_total", unary),
        seconds: total(samples, "grpc_server_handling_seconds_sum", unary),
        timed: total(samples, "grpc_server_handling_seconds_count", unary),
      };
    } catch (e) {
      // A member of another origin that does not list this page's (--cors), or no /metrics.
      metricsWhy = `no request figures: ${api.endpoint}/metrics is not readable from this page (${(e as Error).message})`;
      metricsRetryAt = performance.now() + METRICS_RETRY_MS;
      last = undefined;
      return undefined;
    }
  }

  async function tick(api: Api, mine: number): Promise<void> {
    let wait = EVERY_MS;
    try {
      if (document.visibilityState === "hidden") return;
      let st: StatusResponse;
      try {
        st = await api.status();
      } catch (e) {
        if (mine === gen) set(state, `no status from the member: ${(e as Error).message}`);
        wait = UNREACHABLE_EVERY_MS;
        return;
      }
      const now = await counters(api);
      if (mine !== gen) return;
      const rev = st.header?.revision ?? 0n;
      set(f.revision.value, String(rev));
      set(f.size.value, humanizeBytes(st.dbSize));
      set(f.inUse.value, humanizeBytes(st.dbSizeInUse));
      set(f.index.value, String(st.raftIndex));
      set(f.term.value, String(st.raftTerm));
      const self = st.header?.memberId ?? 0n;
      set(f.leader.value, st.leader === 0n ? "none" : `${hex(st.leader)}${st.leader === self ? " (this member)" : ""}`);
      push("revision", Number(rev));
      push("size", Number(st.dbSize));
      // Rates need two reads of /metrics; a counter that went down is a restarted member.
      if (now && last && now.handled >= last.handled && now.timed >= last.timed && now.at > last.at) {
        const rate = (now.handled - last.handled) / ((now.at - last.at) / 1000);
        set(f.rate.value, `${rate.toFixed(1)} req/s`);
        push("rate", rate);
        if (now.timed > last.timed) {
          const ms = ((now.seconds - last.seconds) / (now.timed - last.timed)) * 1000;
          set(f.latency.value, `${ms.toFixed(2)} ms`);
          push("latency", ms);
        }
      }
      if (now) last = now;
      else if (metricsWhy) {
        set(f.rate.value, "—");
        set(f.latency.value, "—");
      }
      set(state, metricsWhy);
    } finally {
      if (mine === gen) timer = setTimeout(() => void tick(api, mine), wait);
    }
  }

  return {
    follow(api) {
      const mine = ++gen;
      clearTimeout(timer);
      timer = undefined;
      last = undefined;
      metricsRetryAt = 0;
      metricsWhy = "";
      for (const k of Object.keys(values) as (keyof typeof series)[]) {
        values[k] = [];
        series[k].draw([]);
      }
      for (const x of Object.values(f)) set(x.value, "—");
      set(state, "");
      root.hidden = api.mode !== "server";
      if (!root.hidden) void tick(api, mine);
    },
  };
}
