// Help in etcdctl's layout (NAME, USAGE, API VERSION, COMMANDS, DESCRIPTION, OPTIONS), columns
// aligned with tabs as etcdctl's tabwriter aligns them.
import { HELP_FLAG, type FlagSpec } from "./args.js";
import { API_VERSION, GLOBAL_FLAGS, ROOT, VERSION, type Command } from "./commands.js";

// etcdctl writes its help through text/tabwriter (tab width 8, padding 1, padded with tabs):
// a column is as wide as its widest cell plus one, rounded up to a tab stop, and each cell
// is followed by as many tabs as reach it.
function columns(rows: [string, string][]): string[] {
  const cells = rows.map(([a, b]): [string, string] => ["  " + a, b]);
  const width = Math.max(0, ...cells.map(([a]) => [...a].length)) + 1;
  const stop = Math.ceil(width / 8) * 8;
  return cells.map(([a, b]) => a + "\t".repeat(Math.ceil((stop - [...a].length) / 8)) + b);
}

function flagRows(flags: FlagSpec[], cmdName: string): [string, string][] {
  // pflag lists flags sorted by name (bytewise).
  const all = [...flags, { ...HELP_FLAG, usage: `help for ${cmdName}` }]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return all.map((f) => {
    const def = f.type === "bool" ? `[=${f.def}]` : f.type === "string" ? `="${f.def}"`
      : f.type === "strings" ? `=[${(f.def as string[]).join(",")}]` : `=${f.def}`;
    return [`${f.short ? `-${f.short}, ` : "    "}--${f.name}${def}`, f.usage];
  });
}

/** The leaves under cmd, with their paths: "lease grant", "get"... */
function leaves(cmd: Command, path: string[] = []): [string, Command][] {
  if (!cmd.sub) return [[path.join(" "), cmd]];
  return cmd.sub.filter((c) => !c.missing).flatMap((c) => leaves(c, [...path, c.name]));
}

// Only the global flags that act here are listed (and completed).
const ACTING = new Set(["write-out", "hex", "endpoints", "user", "password"]);
/** The global flags help lists: those that act in this console. */
export const globals = GLOBAL_FLAGS.filter((f) => ACTING.has(f.name));

/**
 * The console's variables, which a shell would hold for etcdctl: what each is, and the values
 * set now (vars).
 */
function variablesHelp(vars: ReadonlyMap<string, string>): string[] {
  const set = [...vars].map(([k, v]) => `${k}=${v}`).join(" ");
  return [
    "VARIABLES:",
    ...columns([
      ["$LEASE", "the ID of the last lease granted here (lease grant)"],
      ["$REV", "the revision the last put, del or txn left the store at"],
      ["NAME=VALUE", "a line of these sets variables, e.g. FIRST=$REV to keep a revision"],
    ]),
    "  $NAME or ${NAME} in a command (not in 'single quotes') is replaced by its value.",
    ...(set ? [`  Set now: ${set}`] : []),
    "",
  ];
}

export function rootHelp(vars: ReadonlyMap<string, string> = new Map()): string[] {
  const missing = ROOT.sub!.filter((c) => c.missing).map((c) => c.name);
  return [
    "NAME:", `  etcdctl - ${ROOT.short}`, "",
    "USAGE:", "  etcdctl [flags]", "",
    "VERSION:", `  ${VERSION}`, "",
    "API VERSION:", `  ${API_VERSION}`, "",
    "COMMANDS:", ...columns(leaves(ROOT).map(([p, c]) => [p, c.short])), "",
    "Not in this console: " + missing.join(", ") + ".", "",
    "OPTIONS:", ...columns(flagRows(globals, "etcdctl")), "",
    ...variablesHelp(vars),
    "Ctrl+C stops the running watches and keep-alives (and leaves txn); each one's Stop button, under",
    "the output, stops that one. clear clears the console. Tab completes a command's name or a flag.",
    "With auth on, --user NAME:PASSWORD runs a command as that user (see 'help user add').",
    "--endpoints=URL,... runs a command on those members of the server's cluster (see 'member list').",
    "Run 'help <command>' (or '<command> --help') for a command's options.",
  ];
}

/** Help for the command at path (e.g. ["lease", "grant"]). */
export function commandHelp(cmd: Command, path: string[], inherited: FlagSpec[]): string[] {
  const out = ["NAME:", `  ${path.join(" ")} - ${cmd.short}`, "", "USAGE:"];
  const parent = path.slice(0, -1);
  out.push(`  etcdctl ${[...parent, cmd.use].join(" ")} [flags]`, "");
  if (cmd.missing) out.push("  (not available in this console)", "");
  if (cmd.sub) {
    // All of them, as etcdctl lists them ("help <command>" says which this console lacks).
    out.push("API VERSION:", `  ${API_VERSION}`, "");
    out.push("COMMANDS:", ...columns(cmd.sub.map((c) => [c.name, c.short])), "");
  }
  // descToLines: the text trimmed, each line indented (an empty one too).
  if (cmd.long) out.push("DESCRIPTION:", ...cmd.long.trim().split("\n").map((l) => "  " + l), "");
  out.push("OPTIONS:", ...columns(flagRows([...(cmd.flags ?? []), ...(cmd.persistent ?? [])], cmd.name)), "");
  out.push("GLOBAL OPTIONS:", ...columns(flagRows([...globals, ...inherited], "").filter(([, u]) => u !== "help for ")));
  return out;
}
