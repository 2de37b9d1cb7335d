// The console's watches and keep-alives, listed under its output while they run, each with a
// Stop button: Ctrl+C stops them all at once, and a phone has no Ctrl key.
import { h } from "./dom.js";
import type { Shell } from "./shell/index.js";

/** Keeps list showing what shell runs in the background; stopped(label) follows each Stop. */
export function taskList(shell: Shell, list: HTMLElement, stopped: (label: string) => void): void {
  const draw = () => {
    const tasks = shell.running;
    list.hidden = tasks.length === 0;
    list.replaceChildren(...tasks.map((t) => h("li", {},
      h("code", { title: t.label }, t.label),
      h("button", {
        type: "button", "aria-label": `Stop ${t.label}`,
        onclick: () => {
          t.stop();
          stopped(t.label);
        },
      }, "Stop"))));
  };
  shell.onTasks = draw;
  draw();
}
