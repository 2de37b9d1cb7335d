// A command line as a shell would split it, and flags as cobra/pflag parse them (interspersed
// with arguments, --flag=value or --flag value, -w json or -wjson, "--" ends the flags), with
// pflag's error texts.
import { GoError, goQuote, parseBool, parseDuration, parseInt64 } from "./gofmt.js";

/**
 * Splits a line like sh: blanks separate words, 'single quotes' are literal, "double quotes"
 * keep blanks and take \" \\ \$ \` escapes, a backslash outside quotes escapes any character.
 */
export function tokenize(line: string): string[] {
  const words: string[] = [];
  let cur = "";
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      if (inWord) words.push(cur);
      cur = "";
      inWord = false;
      continue;
    }
    inWord = true;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new GoError("unterminated quoted string");
      cur += line.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === "\\" && j + 1 < line.length && '"\\$`'.includes(line[j + 1])) j++;
        cur += line[j];
      }
      if (j >= line.length) throw new GoError("unterminated quoted string");
      i = j;
    } else if (c === "\\" && i + 1 < line.length) {
      cur += line[++i];
    } else {
      cur += c;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

/** "duration": a string that must parse as Go's time.Duration (pflag's DurationVar). */
export type FlagType = "bool" | "string" | "int64" | "duration";
export type FlagValue = boolean | string | bigint;

export interface FlagSpec {
  name: string;
  short?: string;
  type: FlagType;
  def: FlagValue;
  usage: string;
}

export interface Parsed {
  args: string[];
  values: Record<string, FlagValue>;
  /** Flags given on the line, by name. */
  changed: Set<string>;
  help: boolean;
}

export const HELP_FLAG: FlagSpec = { name: "help", short: "h", type: "bool", def: false, usage: "help for this command" };

/** Parses flags anywhere among args, as pflag does. Throws GoError with pflag's text. */
export function parseFlags(argv: string[], specs: FlagSpec[]): Parsed {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const values: Record<string, FlagValue> = {};
  for (const s of specs) values[s.name] = s.def;
  const changed = new Set<string>();
  const args: string[] = [];

  const set = (s: FlagSpec, v: string) => {
    try {
      if (s.type === "duration") parseDuration(v);
      values[s.name] = s.type === "bool" ? parseBool(v) : s.type === "int64" ? parseInt64(v, 0) : v;
    } catch (e) {
      const desc = s.short ? `-${s.short}, --${s.name}` : `--${s.name}`;
      throw new GoError(`invalid argument ${goQuote(v)} for ${goQuote(desc)} flag: ${(e as Error).message}`);
    }
    changed.add(s.name);
  };

  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith("-") || a === "-") {
      args.push(a);
      continue;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      const s = byName.get(name);
      if (!s) throw new GoError(`unknown flag: --${name}`);
      if (eq >= 0) set(s, a.slice(eq + 1));
      else if (s.type === "bool") set(s, "true");
      else if (i + 1 < argv.length) set(s, argv[++i]);
      else throw new GoError(`flag needs an argument: ${a}`);
      continue;
    }
    // -abc: shorthands, the last may take a value (rest of the word, after "=", or the next word)
    const shorts = a.slice(1);
    for (let k = 0; k < shorts.length; k++) {
      const c = shorts[k];
      const s = byShort.get(c);
      if (!s) throw new GoError(`unknown shorthand flag: '${c}' in -${shorts}`);
      const rest = shorts.slice(k + 1);
      if (rest.startsWith("=")) {
        set(s, rest.slice(1));
        break;
      }
      if (s.type === "bool") {
        set(s, "true");
        continue;
      }
      if (rest !== "") set(s, rest);
      else if (i + 1 < argv.length) set(s, argv[++i]);
      else throw new GoError(`flag needs an argument: '${c}' in -${shorts}`);
      break;
    }
  }
  return { args, values, changed, help: values.help === true };
}
