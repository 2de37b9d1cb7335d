// Help in etcdctl's layout (NAME, USAGE, COMMANDS, OPTIONS), columns aligned with spaces.
import { HELP_FLAG, type FlagSpec } from "./args.js";
import { API_VERSION, GLOBAL_FLAGS, ROOT, VERSION, type Command } from "./commands.js";

function columns(rows: [string, string][]): string[] {
  const w = Math.max(0, ...rows.map(([a]) => a.length));
  return rows.map(([a, b]) => `  ${a.padEnd(w)}    ${b}`.trimEnd());
}

function flagRows(flags: FlagSpec[], cmdName: string): [string, string][] {
  const all = [...flags, { ...HELP_FLAG, usage: `help for ${cmdName}` }].sort((a, b) => a.name.localeCompare(b.name));
  return all.map((f) => {
    const def = f.type === "bool" ? `[=${f.def}]` : f.type === "string" ? `="${f.def}"` : `=${f.def}`;
    return [`${f.short ? `-${f.short}, ` : "    "}--${f.name}${def}`, f.usage];
  });
}

/** The leaves under cmd, with their paths: "lease grant", "get"... */
function leaves(cmd: Command, path: string[] = []): [string, Command][] {
  if (!cmd.sub) return [[path.join(" "), cmd]];
  return cmd.sub.filter((c) => !c.missing).flatMap((c) => leaves(c, [...path, c.name]));
}

// Only the global flags that act here are listed.
const globals = GLOBAL_FLAGS.filter((f) => f.name === "write-out" || f.name === "hex");

export function rootHelp(): string[] {
  const missing = ROOT.sub!.filter((c) => c.missing).map((c) => c.name);
  return [
    "NAME:", `  etcdctl - ${ROOT.short}`, "",
    "USAGE:", "  etcdctl [flags]", "",
    "VERSION:", `  ${VERSION}`, "",
    "API VERSION:", `  ${API_VERSION}`, "",
    "COMMANDS:", ...columns(leaves(ROOT).map(([p, c]) => [p, c.short])), "",
    "Not in this console: " + missing.join(", ") + ".", "",
    "OPTIONS:", ...columns(flagRows(globals, "etcdctl")), "",
    "Ctrl+C stops a running watch or keep-alive (and leaves txn); clear clears the console.",
    "Run 'help <command>' (or '<command> --help') for a command's options.",
  ];
}

/** Help for the command at path (e.g. ["lease", "grant"]). */
export function commandHelp(cmd: Command, path: string[], inherited: FlagSpec[]): string[] {
  const out = ["NAME:", `  ${path.join(" ")} - ${cmd.short}`, "", "USAGE:"];
  const parent = path.slice(0, -1);
  out.push(`  etcdctl ${[...parent, cmd.use].join(" ")} [flags]`, "");
  if (cmd.missing) out.push("  (not available in this console)", "");
  if (cmd.long) out.push("DESCRIPTION:", ...cmd.long.split("\n").map((l) => (l ? "  " + l : "")), "");
  if (cmd.sub) {
    out.push("COMMANDS:", ...columns(cmd.sub.filter((c) => !c.missing).map((c) => [c.name, c.short])), "");
  }
  out.push("OPTIONS:", ...columns(flagRows([...(cmd.flags ?? []), ...(cmd.persistent ?? [])], cmd.name)), "");
  out.push("GLOBAL OPTIONS:", ...columns(flagRows([...globals, ...inherited], "").filter(([, u]) => u !== "help for ")));
  return out;
}
