// The playground's etcdctl console: takes etcdctl command lines, runs them through the Api
// (the core in this tab, or a server) and prints what etcdctl v3.6 prints.
//
// `clear` is not a command here: the page handles it before calling run().
import type { Api, Credentials } from "../api.js";
import { expand, tokenize } from "./args.js";
import { rememberRevision, type Env } from "./commands.js";
import { complete, type Completion } from "./complete.js";
import { ASSIGNMENT, commandWords, dispatch } from "./dispatch.js";
import { errorMessage } from "./gofmt.js";
import { Printer, type Format, type Sink } from "./print.js";
import type { TxnReader } from "./txn.js";

export interface Output {
  /** Standard output: one call per line or block of lines; no trailing newline. */
  print(text: string): void;
  /** Standard error, likewise ("Error: ..." lines, warnings). */
  error(text: string): void;
}

/** Collects a command's lines and hands them to the Output in blocks, stdout and stderr in order. */
class Block implements Sink {
  private kind: "out" | "err" = "out";
  private lines: string[] = [];

  /** live: whether output is still wanted (a command interrupted while it waited prints nothing more). */
  constructor(private readonly o: Output, private readonly live: () => boolean = () => true) {}

  line(s: string): void {
    this.push("out", s);
  }

  err(s: string): void {
    this.push("err", s);
  }

  private push(kind: "out" | "err", s: string): void {
    if (kind !== this.kind) this.flush();
    this.kind = kind;
    this.lines.push(s);
  }

  flush(): void {
    const lines = this.lines;
    this.lines = [];
    if (lines.length === 0 || !this.live()) return;
    const emit = (t: string) => (this.kind === "out" ? this.o.print(t) : this.o.error(t));
    let end = lines.length;
    while (end > 0 && lines[end - 1] === "") end--;
    if (end > 0) emit(lines.slice(0, end).join("\n"));
    for (let i = end; i < lines.length; i++) emit("");
  }
}

class Interrupted extends Error {}

/** A watch or keep-alive running in the background; stop() ends it (the page's Stop button). */
export interface Task {
  /** The command line that started it (variables expanded, a password hidden). */
  readonly label: string;
  stop(): void;
}

/** A word as sh would need it typed (shlex.quote's rule). */
const quote = (w: string): string => (/^[\w@%+=:,./*-]+$/.test(w) ? w : `'${w.replaceAll("'", `'\\''`)}'`);

/** A task's label: its command's words, the password in --user or --password hidden. */
function taskLabel(words: string[]): string {
  return words.map((w, i) => {
    const prev = words[i - 1];
    if (prev === "--password" || w.startsWith("--password=")) return w.replace(/^(--password=)?.*$/s, "$1***");
    if (prev === "--user" || w.startsWith("--user=")) return w.replace(/:.*$/s, ":***");
    return w;
  }).map(quote).join(" ");
}

const errorText = (e: unknown): string => `Error: ${errorMessage(e)}`;

interface OpenTxn {
  reader: TxnReader;
  /** The client the txn command made (logged in if it had --user). */
  api: Api;
  format: Format;
  hex: boolean;
  /** The run that started it, so that a multi-line input can finish it. */
  run: number;
}

export class Shell {
  private current: Api;
  private readonly tasks = new Set<Task>();
  private txn?: OpenTxn;
  private queue: Promise<void> = Promise.resolve();
  /** Bumped by interrupt(): whatever was running stops at its next step. */
  private epoch = 0;
  private runs = 0;
  private readonly wakers = new Set<() => void>();
  /** What interrupt() calls to give the prompt back from the runs in progress. */
  private readonly stoppers = new Set<() => void>();

  /**
   * The user a command without --user runs as: the page's sign-in to a server (etcdctl's
   * ETCDCTL_USER, in effect). A command's own --user overrides it.
   */
  credentials?: Credentials;

  /**
   * The variables a command may use as $NAME or ${NAME}, as a shell's: LEASE (the last lease
   * granted here, in hex), REV (the revision the last put, del or txn left the store at), and
   * any a line of NAME=VALUE words sets (FIRST=$REV keeps a revision for later).
   */
  readonly vars = new Map<string, string>();

  /** Called when a watch or keep-alive starts or ends (the page lists them, each with a Stop button). */
  onTasks?: () => void;

  /**
   * Asks the person at the console (the page's dialog; true for yes) before a command does
   * what others would lose too: a compaction of a server. Unset, nothing is asked.
   */
  ask?: (question: string, yes: string) => Promise<boolean>;

  constructor(api: Api, private readonly out: Output) {
    this.current = api;
  }

  /** The transport; setting another one stops the watches and keep-alives on the old one. */
  get api(): Api {
    return this.current;
  }

  set api(api: Api) {
    if (api === this.current) return;
    this.stopTasks();
    this.current = api;
  }

  get prompt(): string {
    return this.txn ? this.txn.reader.prompt : "$";
  }

  /** What the input should suggest: the syntax of the txn section being read ("" at the $ prompt). */
  get hint(): string {
    return this.txn ? this.txn.reader.hint : "";
  }

  /** A watch or keep-alive is running. */
  get busy(): boolean {
    return this.tasks.size > 0;
  }

  /** The watches and keep-alives running, oldest first. */
  get running(): Task[] {
    return [...this.tasks];
  }

  /**
   * Runs one input line (or several, separated by \n: each is run in turn, and a txn begun in
   * them is committed at the end even if its last sections were left out). Never rejects.
   * asked: the person agreed to what the input does already (an example that compacts a
   * server asks before it starts), so its commands do not ask again.
   */
  run(line: string, asked = false): Promise<void> {
    const p = this.queue.then(() => this.runInput(line, asked));
    this.queue = p;
    return p;
  }

  /** Tab: the line with its last word completed (see complete); nothing in a txn, whose lines are no commands. */
  complete(line: string): Completion {
    return this.txn ? { line, options: [] } : complete(line);
  }

  /** Ctrl+C: stops watches and keep-alives, leaves txn, cancels a pending wait. */
  interrupt(): void {
    this.epoch++;
    this.stopTasks();
    this.txn = undefined;
    for (const w of this.wakers) w();
    this.wakers.clear();
    for (const s of this.stoppers) s();
    this.stoppers.clear();
  }

  private stopTasks(): void {
    for (const t of [...this.tasks]) t.stop();
  }

  /**
   * Registers a background task. Its stop() (Ctrl+C, or the page's Stop button) calls halt,
   * unless it has ended already (a Stop button may outlive its task by a moment).
   */
  private startTask(label: string, halt: () => void): { end(): void } {
    const t: Task = {
      label,
      stop: () => {
        if (!this.tasks.delete(t)) return;
        this.onTasks?.();
        halt();
      },
    };
    this.tasks.add(t);
    this.onTasks?.();
    return { end: () => void (this.tasks.delete(t) && this.onTasks?.()) };
  }

  private async runInput(input: string, asked: boolean): Promise<void> {
    // Ctrl+C gives the prompt back at once, even while a call is still out.
    let stop!: () => void;
    const stopped = new Promise<never>((_, reject) => (stop = () => reject(new Interrupted())));
    stopped.catch(() => {});
    this.stoppers.add(stop);
    try {
      await this.runLines(input, stopped, asked);
    } finally {
      this.stoppers.delete(stop);
    }
  }

  private async runLines(input: string, stopped: Promise<never>, asked: boolean): Promise<void> {
    const epoch = this.epoch;
    const run = ++this.runs;
    const lines = input.split(/\r?\n/);
    let fedHere = false;
    const live = () => this.epoch === epoch;
    for (const line of lines) {
      if (!live()) return;
      const out = new Block(this.out, live);
      const inTxn = this.txn !== undefined;
      try {
        if (inTxn) {
          if (this.txn!.run === run) fedHere = true;
          await Promise.race([this.feedTxn(line, out, epoch), stopped]);
        } else {
          await Promise.race([this.exec(line, out, epoch, run, asked), stopped]);
          fedHere = false;
        }
      } catch (e) {
        if (!(e instanceof Interrupted)) out.err(errorText(e));
        // A bad txn line ends etcdctl, and with it the rest of its input: the lines after it
        // are not run as commands.
        if (inTxn) return;
      } finally {
        out.flush();
      }
    }
    if (this.txn && this.txn.run === run && fedHere && live()) {
      const out = new Block(this.out, live);
      try {
        await Promise.race([this.commit(out), stopped]);
      } catch (e) {
        if (!(e instanceof Interrupted)) out.err(errorText(e));
      } finally {
        out.flush();
      }
    }
  }

  private sleep(ms: number, out: Block, epoch: number): Promise<boolean> {
    out.flush();
    return new Promise((resolve) => {
      if (epoch !== this.epoch) return resolve(false);
      const wake = () => {
        clearTimeout(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.wakers.delete(wake);
        resolve(true);
      }, ms);
      this.wakers.add(wake);
    });
  }

  private async exec(line: string, out: Block, epoch: number, run: number, asked: boolean): Promise<void> {
    // Pasted lines: "$ etcdctl ...", "ETCDCTL_API=3 etcdctl ...". As in sh, NAME=VALUE words
    // before a command are its environment (which etcdctl's flags override: ignored here); a
    // line of nothing else sets variables.
    const { assigned, command: words } = commandWords(tokenize(line, this.vars));
    if (!words) {
      for (const w of assigned) {
        const [, name, value] = ASSIGNMENT.exec(w)!;
        this.vars.set(name, value);
      }
      return;
    }
    const env: Env = {
      api: this.current,
      credentials: this.credentials,
      out,
      background: () => new Block(this.out),
      sleep: (ms) => this.sleep(ms, out, epoch),
      startTask: (stop) => this.startTask(taskLabel(words), stop),
      beginTxn: (reader, printer, api) => {
        this.txn = { reader, api, format: printer.format, hex: printer.isHex, run };
      },
      vars: this.vars,
      setVar: (name, value) => void this.vars.set(name, value),
      confirm: (question, yes) => (asked || !this.ask ? Promise.resolve(true) : this.ask(question, yes)),
    };
    await dispatch(words, env);
  }

  private async feedTxn(line: string, out: Block, epoch: number): Promise<void> {
    const t = this.txn!;
    let ready: boolean;
    try {
      ready = await t.reader.feed(expand(line, this.vars), async (warning) => {
        out.err(warning);
        if (!(await this.sleep(2000, out, epoch))) throw new Interrupted();
      });
    } catch (e) {
      this.txn = undefined; // etcdctl exits on a bad line
      throw e;
    }
    if (ready) await this.commit(out);
  }

  private async commit(out: Block): Promise<void> {
    const t = this.txn!;
    this.txn = undefined;
    const resp = await t.api.txn(t.reader.request());
    rememberRevision((name, value) => this.vars.set(name, value), resp.header);
    new Printer(out, t.format, t.hex).txn(resp);
  }
}
