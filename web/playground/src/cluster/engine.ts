// The in-tab cluster's driver: it moves the members' virtual clock one tick at a time
// (metastoreCluster.step, wasm/cluster/tab) and hands requests in and answers out at ticks.
// A run is the seed plus the requests made at each tick (the script): with the module's
// random source seeded (seedRandom, before the module starts), the same script gives the
// same run, tick for tick — what "share" and "replay" rest on (a shared run also says the
// tick it was shared at, where its replay stops: Run.until). It runs in the cluster's
// worker (cluster-worker.ts) and, in tests, under Node.

/** The module's two calls (wasm/cluster/tab). */
export interface ClusterModule {
  start(json: string): string;
  step(json: string): string;
}

/** A member as the module reports it (wasm/cluster.Status). */
export interface MemberState {
  name: string;
  id: string;
  running: boolean;
  role: string;
  term: number;
  leader: string;
  commit: number;
  applied: number;
  removed?: boolean;
  disk_delay_ms?: number;
}

/** One direction of a link (wasm/cluster.Link). */
export interface LinkState {
  from: string;
  to: string;
  drop: number;
  delay_ms: number;
  sent: number;
  delivered: number;
  lost: number;
  in_flight: number;
  cut: boolean;
}

export interface CallError {
  code: number;
  message: string;
}

export interface Output {
  tick: number;
  now_ms: number;
  members: MemberState[];
  links: LinkState[];
  done: { id: number; result?: unknown; error?: CallError }[];
  watch: { stream: string; result: unknown }[];
}

/** A request made at a tick: what a script is made of. */
export interface Scripted {
  tick: number;
  method: string;
  body: object;
}

/** A run's identity: the seed, the size, and the requests by tick. */
export interface Run {
  seed: string;
  members: number;
  script: Scripted[];
  /**
   * The tick the run was shared at (how many had run): a replay runs to there and pauses,
   * so it shows what the run showed when its link was made. None: the replay goes on.
   */
  until?: number;
}

/**
 * Replaces crypto.getRandomValues with a stream drawn from seed (splitmix64), so that a
 * module started afterwards draws the same numbers on every run: Raft's election timeouts,
 * Go's map and select order. Not for secrecy: the in-tab cluster only.
 */
export function seedRandom(seed: string): void {
  const mask = (1n << 64n) - 1n;
  let s = BigInt.asUintN(64, BigInt(seed));
  const next = (): bigint => {
    s = (s + 0x9e3779b97f4a7c15n) & mask;
    let z = s;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & mask;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & mask;
    return z ^ (z >> 31n);
  };
  const fill = <T extends ArrayBufferView | null>(a: T): T => {
    if (!a) return a;
    const b = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    for (let i = 0; i < b.length; i += 8) {
      let v = next();
      for (let j = 0; j < 8 && i + j < b.length; j++, v >>= 8n) b[i + j] = Number(v & 0xffn);
    }
    return a;
  };
  Object.defineProperty(globalThis, "crypto", { value: { ...globalThis.crypto, getRandomValues: fill }, configurable: true });
}

/** A digest of a tick's output, for comparing runs: roles, terms, indexes, answers. */
export function traceLine(o: Output): string {
  return JSON.stringify([o.tick, o.members.map((m) => [m.name, m.running, m.role, m.term, m.leader, m.commit, m.applied]),
    o.done.map((d) => [d.id, d.error ?? d.result])]);
}

export class Engine {
  /** The requests made so far, by tick (the run's script). */
  readonly script: Scripted[] = [];
  /** One line per tick (traceLine). */
  readonly trace: string[] = [];
  last!: Output;
  private queued: { id: number; method: string; body: object }[] = [];
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: CallError): void }>();
  private nextID = 1;
  private steps = 0;
  /** Requests the script holds for ticks still to come (a replay). */
  private pending: Scripted[] = [];
  /** The tick a replay runs to (Run.until), if any. */
  private stopAt?: number;

  constructor(private readonly mod: ClusterModule, readonly run: Omit<Run, "script">,
    private readonly onWatch: (stream: string, result: unknown) => void = () => {}) {
    this.last = this.parse(mod.start(JSON.stringify({ members: run.members, seed: run.seed })));
  }

  private parse(json: string): Output {
    const o = JSON.parse(json) as Output & { error?: CallError };
    if (o.error) throw o.error;
    return o;
  }

  /**
   * Replays a script: its requests go in at their ticks as the engine steps. With until,
   * the replay lasts that many ticks (at least until its last request is made).
   */
  replay(script: Scripted[], until?: number): void {
    this.pending = [...script].sort((a, b) => a.tick - b.tick);
    this.stopAt = until === undefined ? undefined : Math.max(until, ...this.pending.map((s) => s.tick + 1));
  }

  /** The tick a replay runs to: Run.until, raised past the script's last request; none without. */
  get until(): number | undefined {
    return this.stopAt;
  }

  /** How many ticks a replay still has to run (0 when it is over, or has no until). */
  get ticksToGo(): number {
    return this.stopAt === undefined ? 0 : Math.max(0, this.stopAt - this.steps);
  }

  /** The tick the next step runs (how many have run). */
  get tick(): number {
    return this.steps;
  }

  /** How many scripted requests are still to come. */
  get replaying(): number {
    return this.pending.length;
  }

  /** Makes a request at the next tick; settles when its answer comes out. */
  call(method: string, body: object = {}): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const id = this.nextID++;
      this.waiting.set(id, { resolve, reject });
      this.queued.push({ id, method, body });
    });
  }

  /** Runs one tick. */
  step(): Output {
    const tick = this.steps++;
    while (this.pending.length > 0 && this.pending[0].tick <= tick) {
      const s = this.pending.shift()!;
      void this.call(s.method, s.body).catch(() => {}); // a replayed request's answer is in the trace
    }
    const inputs = this.queued;
    this.queued = [];
    for (const i of inputs) this.script.push({ tick, method: i.method, body: i.body });
    const o = this.parse(this.mod.step(JSON.stringify({ inputs })));
    this.last = o;
    this.trace.push(traceLine(o));
    for (const d of o.done) {
      const w = this.waiting.get(d.id);
      this.waiting.delete(d.id);
      if (d.error) w?.reject(d.error);
      else w?.resolve(d.result);
    }
    for (const w of o.watch) this.onWatch(w.stream, w.result);
    return o;
  }
}
