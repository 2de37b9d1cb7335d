// A script: console commands, one a line, to run in the console with one click and to share
// as a link. Link puts the script in the page's address (#script=…); opening that address
// shows the script here, ready to run. A link never runs anything by itself: whoever made it,
// its commands run when Run is pressed, after they could be read.
import type { App, Panel } from "../app.js";
import { h } from "../dom.js";

/** The lines typed in the console so far, and how many with a password were left out of them. */
export interface Typed {
  lines: string[];
  secret: number;
}

/** The script an address carries, if it carries one. */
export function linkedScript(href: string): string | undefined {
  return new URLSearchParams(new URL(href).hash.slice(1)).get("script") ?? undefined;
}

/** The address href with script in it. */
function scriptLink(href: string, script: string): string {
  const u = new URL(href);
  u.hash = new URLSearchParams({ script }).toString();
  return u.href;
}

/** A script's lines: each ends with a newline, but the last may lack it. */
function lines(script: string): string[] {
  const l = script.split(/\r?\n/);
  if (l[l.length - 1] === "") l.pop();
  return l;
}

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;

export function scriptPanel(app: App, root: HTMLElement, typed: () => Typed): Panel & { load(script: string): void } {
  const area = h("textarea", { "aria-label": "script", rows: 10, spellcheck: "false", autocapitalize: "off" }) as HTMLTextAreaElement;
  const note = h("p", { class: "muted", role: "status" });
  const shared = h("p", { class: "script-link" });
  /** The script is the user's (edited, or from a link), not the commands typed, which it no longer follows. */
  let own = false;
  area.addEventListener("input", () => (own = true));

  /** Shows the lines typed in the console so far. */
  function fromConsole(): void {
    const t = typed();
    area.value = t.lines.map((l) => `${l}\n`).join("");
    say(t.secret > 0 ? `The commands typed so far; ${plural(t.secret, "line")} with a password left out.` : "The commands typed so far.");
  }

  /** Sets the note, a live region: only when it changes, as each write is announced. */
  function say(text: string): void {
    if (note.textContent !== text) note.textContent = text;
  }

  const run = h("button", {
    type: "button", "data-action": "run", onclick: async () => {
      run.disabled = true;
      try {
        for (const l of lines(area.value)) await app.run(l);
      } finally {
        run.disabled = false;
      }
    },
  }, "Run in the console");

  const link = h("button", {
    type: "button", "data-action": "link", onclick: () => {
      const href = scriptLink(location.href, area.value);
      // The address bar is the link too: copy it from there, bookmark it, or reload.
      history.replaceState(history.state, "", href);
      shared.replaceChildren(h("a", { href }, "Link to this script"),
        ` (${plural(lines(area.value).length, "line")}; it opens the playground with them here, not run).`);
      // Where the page may not write the clipboard, the link and the address bar still have it.
      navigator.clipboard?.writeText(href).then(() => shared.append(" Copied."), () => {});
    },
  }, "Link");

  root.append(
    h("p", {}, "Commands for the console, one a line (a txn's lines after it, as typed at its prompts). ",
      "Link makes an address that opens the playground with this script here: it runs only when Run is pressed."),
    area, note,
    h("div", { class: "row" }, run,
      h("button", { type: "button", "data-action": "typed", onclick: () => ((own = false), fromConsole()) }, "Commands typed so far"),
      link),
    shared);

  return {
    async refresh() {
      if (!own) fromConsole();
    },
    load(script: string) {
      own = true;
      area.value = script;
      shared.replaceChildren();
      say(`From the link: ${plural(lines(script).length, "line")}, not run yet. Read them, then Run runs them in the console.`);
    },
  };
}
