// Tab completion in the console: the word at the end of the line, as a command's name (a
// subcommand's after its parent) or as one of the command's flags. Keys and values are the
// user's own: nothing to offer there.
import { HELP_FLAG } from "./args.js";
import { commandWords, find } from "./dispatch.js";
import { globals } from "./help.js";

export interface Completion {
  /** The line, its last word completed as far as what fits agrees. */
  line: string;
  /** What fits, sorted, when that is several and the line could go no further (to list them). */
  options: string[];
}

/** The longest start the words share. */
function shared(words: string[]): string {
  let p = words[0];
  for (const w of words) while (!w.startsWith(p)) p = p.slice(0, -1);
  return p;
}

/**
 * Completes line's last word: a command's name (those this console has, and help) with a
 * space after it, or a --flag the command takes (its own, its parents', the global ones help
 * lists) with "=" after one that takes a value and a space after a switch. Words are split at
 * blanks only (a quoted word is a key or a value: nothing to complete).
 */
export function complete(line: string): Completion {
  const word = /\S*$/.exec(line)![0];
  const head = line.slice(0, line.length - word.length);
  let found = find(commandWords(head.split(/\s+/).filter((w) => w !== "")).command ?? []);
  // "help lease gr": the words after help name a command.
  if (found.path.length === 1 && found.cmd.name === "help") found = find(found.rest);
  const { cmd, inherited, rest } = found;
  let fits: { name: string; end: string }[] = [];
  if (word.startsWith("-") && !word.includes("=")) {
    const flags = [...(cmd.flags ?? []), ...(cmd.persistent ?? []), ...inherited, ...globals, HELP_FLAG];
    fits = flags.map((f) => ({ name: `--${f.name}`, end: f.type === "bool" ? " " : "=" }));
  } else if (cmd.sub && !rest.some((w) => !w.startsWith("-"))) {
    // A subcommand comes before any argument.
    fits = cmd.sub.filter((c) => !c.missing).map((c) => ({ name: c.name, end: " " }));
  }
  fits = fits.filter((f, i) => f.name.startsWith(word) && fits.findIndex((g) => g.name === f.name) === i);
  if (fits.length === 0) return { line, options: [] };
  if (fits.length === 1) return { line: head + fits[0].name + fits[0].end, options: [] };
  const names = fits.map((f) => f.name).sort();
  const common = shared(names);
  return common.length > word.length ? { line: head + common, options: [] } : { line, options: names };
}
