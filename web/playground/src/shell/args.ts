// A command line as a shell would split it (the console's variables expanded), and flags as
// cobra/pflag parse them (interspersed with arguments, --flag=value or --flag value, -w json
// or -wjson, "--" ends the flags), with pflag's error texts.
import { GoError, goQuote, parseBool, parseDuration, parseInt64 } from "./gofmt.js";

/** The console's variables (LEASE, REV and those the user sets), by name. */
export type Vars = ReadonlyMap<string, string>;

const VAR = /\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)\})/y;

/**
 * The variable $NAME or ${NAME} at line[i]: its value and how many characters it takes. A
 * variable that is not set is left as typed (sh would make it empty: then "lease revoke
 * $LEASE" before any grant would complain of a missing argument instead of naming $LEASE).
 */
function variableAt(line: string, i: number, vars: Vars): [string, number] | undefined {
  VAR.lastIndex = i;
  const m = VAR.exec(line);
  const v = m ? vars.get(m[1] ?? m[2]) : undefined;
  return m && v !== undefined ? [v, m[0].length] : undefined;
}

/**
 * The line with its variables replaced, quotes or not, as a here-document expands them: for
 * the lines a txn reads (etcdctl reads them from its standard input, so "txn <<EOF" is how a
 * shell would give them a lease ID).
 */
export function expand(line: string, vars: Vars): string {
  let out = "";
  for (let i = 0; i < line.length; i++) {
    const v = line[i] === "$" ? variableAt(line, i, vars) : undefined;
    out += v ? v[0] : line[i];
    if (v) i += v[1] - 1;
  }
  return out;
}

/**
 * Splits a line like sh: blanks separate words, 'single quotes' are literal, "double quotes"
 * keep blanks and take \" \\ \$ \` escapes, a backslash outside quotes escapes any character.
 * $NAME and ${NAME} outside single quotes are replaced by the variables' values (not split
 * into words).
 */
export function tokenize(line: string, vars: Vars = new Map()): string[] {
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
        const v = line[j] === "$" ? variableAt(line, j, vars) : undefined;
        if (v) {
          cur += v[0];
          j += v[1] - 1;
          continue;
        }
        if (line[j] === "\\" && j + 1 < line.length && '"\\$`'.includes(line[j + 1])) j++;
        cur += line[j];
      }
      if (j >= line.length) throw new GoError("unterminated quoted string");
      i = j;
    } else if (c === "\\" && i + 1 < line.length) {
      cur += line[++i];
    } else {
      const v = c === "$" ? variableAt(line, i, vars) : undefined;
      cur += v ? v[0] : c;
      if (v) i += v[1] - 1;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

/**
 * "duration": a string that must parse as Go's time.Duration (pflag's DurationVar).
 * "strings": pflag's StringSlice: comma-separated values; given again, the flag adds to them.
 */
export type FlagType = "bool" | "string" | "int64" | "duration" | "strings";
export type FlagValue = boolean | string | bigint | string[];

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
      if (s.type === "strings") {
        // pflag reads the value as a CSV record (quotes are not handled here); "" is no value.
        const more = v === "" ? [] : v.split(",");
        values[s.name] = changed.has(s.name) ? [...(values[s.name] as string[]), ...more] : more;
      } else values[s.name] = s.type === "bool" ? parseBool(v) : s.type === "int64" ? parseInt64(v, 0) : v;
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
