// From words to a command, as cobra finds it in etcdctl: subcommands by name or unique prefix
// (etcdctl turns on prefix matching), flags anywhere, "unknown command" with suggestions,
// help for -h/--help, for "help <command>" and for commands that only group others.
import { HELP_FLAG, parseFlags, type FlagSpec } from "./args.js";
import type { Api, Credentials } from "../api.js";
import { GLOBAL_FLAGS, ROOT, isFormat, type Call, type Command, type Env } from "./commands.js";
import { GoError, goQuote } from "./gofmt.js";
import { commandHelp, rootHelp } from "./help.js";
import { Printer } from "./print.js";

/** cobra's findNext: the subcommand named, or the only one the name is a prefix of. */
function findNext(cmd: Command, name: string): Command | undefined {
  const subs = cmd.sub ?? [];
  const exact = subs.find((c) => c.name === name);
  if (exact) return exact;
  const matches = subs.filter((c) => c.name.startsWith(name));
  return matches.length === 1 ? matches[0] : undefined;
}

/** cobra's stripFlags: the words that are not flags or a flag's value. */
function stripFlags(words: string[], flags: FlagSpec[]): string[] {
  const isBool = (name: string) => flags.some((f) => f.name === name && f.type === "bool");
  const isBoolShort = (c: string) => flags.some((f) => f.short === c && f.type === "bool");
  const out: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const s = words[i];
    if (s === "--") break;
    const takesValue =
      (s.startsWith("--") && !s.includes("=") && !isBool(s.slice(2))) ||
      (s.startsWith("-") && !s.startsWith("--") && !s.includes("=") && s.length === 2 && !isBoolShort(s[1]));
    if (takesValue) {
      if (words.length - i - 1 <= 1) break;
      i++;
      continue;
    }
    if (s !== "" && !s.startsWith("-")) out.push(s);
  }
  return out;
}

function removeFirst(words: string[], w: string): string[] {
  const i = words.indexOf(w);
  return i < 0 ? words : [...words.slice(0, i), ...words.slice(i + 1)];
}

// Levenshtein distance, ignoring case, as cobra's suggestions use it.
function distance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length][b.length];
}

function unknownCommand(name: string): string[] {
  const suggestions = (ROOT.sub ?? [])
    .filter((c) => c.name !== "help" && (distance(name, c.name) <= 2 || c.name.startsWith(name.toLowerCase())))
    .map((c) => c.name);
  const lines = [`Error: unknown command ${goQuote(name)} for "etcdctl"`];
  if (suggestions.length) lines.push("", "Did you mean this?", ...suggestions.map((s) => "\t" + s), "");
  lines.push("Run 'etcdctl --help' for usage.");
  return lines;
}

/** sh's NAME=VALUE word. */
export const ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s;

/**
 * A line's words as a shell hands them to etcdctl: a pasted prompt ("$ ...") dropped, the
 * NAME=VALUE words before the command apart (sh's environment for it), then the command's
 * words without "etcdctl" ("ETCDCTL_API=3 etcdctl ..."). A line of NAME=VALUE words only
 * has no command: it sets variables.
 */
export function commandWords(words: string[]): { assigned: string[]; command?: string[] } {
  if (words[0] === "$") words = words.slice(1);
  const i = words.findIndex((w) => !ASSIGNMENT.test(w));
  if (i < 0) return { assigned: words };
  let command = words.slice(i);
  if (/(^|\/)etcdctl$/.test(command[0])) command = command.slice(1);
  return { assigned: words.slice(0, i), command };
}

interface Found {
  cmd: Command;
  path: string[];
  /** Persistent flags of the command's ancestors. */
  inherited: FlagSpec[];
  rest: string[];
}

/** The command words name (as cobra finds it: by name or unique prefix), and the words left for it. */
export function find(words: string[]): Found {
  let cmd = ROOT;
  let rest = words;
  const path: string[] = [];
  let inherited: FlagSpec[] = [];
  while (cmd.sub) {
    const names = stripFlags(rest, [...GLOBAL_FLAGS, ...inherited, ...(cmd.persistent ?? []), HELP_FLAG]);
    if (names.length === 0) break;
    const next = findNext(cmd, names[0]);
    if (!next) break;
    rest = removeFirst(rest, names[0]);
    inherited = [...inherited, ...(cmd.persistent ?? [])];
    path.push(next.name);
    cmd = next;
  }
  return { cmd, path, inherited, rest };
}

const print = (env: Env, lines: string[]) => lines.forEach((l) => env.out.line(l));

/**
 * etcdctl's authCfgFromCmd: --user NAME:PASSWORD, or --user NAME with --password PASSWORD
 * (then NAME is taken whole, colons and all). etcdctl asks for a password missing from both;
 * this console cannot ask.
 */
function credentials(user: string, password: string): Credentials | undefined {
  if (user === "") return undefined;
  if (password !== "") return { user, password };
  const i = user.indexOf(":");
  if (i < 0) throw new GoError("this console cannot ask for a password: give it as --user NAME:PASSWORD or with --password");
  return { user: user.slice(0, i), password: user.slice(i + 1) };
}

/** Runs one etcdctl command line (already split into words, without "etcdctl"). */
export async function dispatch(words: string[], env: Env): Promise<void> {
  const { cmd, path, inherited, rest } = find(words);
  if (cmd === ROOT) {
    const names = stripFlags(rest, [...GLOBAL_FLAGS, HELP_FLAG]);
    if (names.length > 0) return unknownCommand(names[0]).forEach((l) => env.out.err(l));
  }
  if (cmd.name === "help" && path.length === 1) {
    const topic = rest.filter((w) => !w.startsWith("-"));
    if (topic.length === 0) return print(env, rootHelp(env.vars));
    const f = find(topic);
    if (f.cmd === ROOT || f.rest.some((w) => !w.startsWith("-"))) {
      env.out.line(`Unknown help topic [${topic.map((t) => "`" + t + "`").join(" ")}]`);
      return print(env, rootHelp(env.vars));
    }
    return print(env, commandHelp(f.cmd, f.path, f.inherited));
  }

  const specs = [...GLOBAL_FLAGS, ...inherited, ...(cmd.persistent ?? []), ...(cmd.flags ?? []), HELP_FLAG];
  const p = parseFlags(rest, specs);
  if (p.help || !cmd.run && !cmd.missing) {
    return print(env, cmd === ROOT ? rootHelp(env.vars) : commandHelp(cmd, path, inherited));
  }
  if (cmd.missing) throw new GoError(`"etcdctl ${path.join(" ")}" is not available in this console (see 'help')`);

  let printer: Printer | undefined;
  // clientConfigFromCmd: the TLS files (keyAndCertFromCmd), the credentials (authCfgFromCmd),
  // then the printer; clientv3.New then logs in.
  const config = (): Credentials | undefined => {
    for (const f of ["cert", "key", "cacert"])
      if (p.changed.has(f) && p.values[f] === "") throw new GoError(`empty string is passed to --${f} option`);
    const creds = credentials(p.values.user as string, p.values.password as string);
    const format = p.values["write-out"] as string;
    if (!isFormat(format)) throw new GoError("unsupported output format");
    printer ??= new Printer(env.out, format, p.values.hex as boolean);
    return creds;
  };
  const endpoints = (): string[] =>
    p.changed.has("endpoints") ? (p.values.endpoints as string[]).map((e) => e.trim()) : [env.api.endpoint];
  // clientv3.New: an endpoint is needed; one of another member keeps the credentials.
  const clientAt = async (ep: string | undefined): Promise<Api> => {
    const creds = config() ?? env.credentials;
    if (ep === undefined) throw new GoError("etcdclient: no available endpoints");
    return env.api.at(ep).client(creds);
  };
  const call: Call = {
    env,
    args: p.args,
    raw: rest,
    flags: p.values,
    client: () => clientAt(endpoints()[0]),
    endpoints,
    clientAt,
    printer() {
      if (!printer) config();
      return printer!;
    },
  };
  await cmd.run!(call);
}
