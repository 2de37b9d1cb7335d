// The playground's shared state: the store it talks to (this tab or a server), the console
// shell, and a change feed the panels refresh from.
import type { Api } from "./api.js";
import type { Shell } from "./shell/index.js";

/** A view on the right: refresh() redraws it from the store (only while it is in view); reset() drops what belonged to the old store. */
export interface Panel {
  refresh(): Promise<void>;
  reset?(): void;
}

export class App {
  /** The store's revision as last seen. */
  revision = 0n;
  /** Why the store did not answer the last refresh, if it did not. */
  error = "";
  private readonly panels: { panel: Panel; root: HTMLElement }[] = [];
  private running: Promise<void> | undefined;
  private readonly listeners = new Set<(text: string) => void>();
  private again = false;

  constructor(public api: Api, readonly shell: Shell, private readonly echo: (line: string) => void,
    private readonly onChanged: () => void, private readonly onPrompt: () => void) {}

  /** Adds a panel shown in root; only panels in view are refreshed (call changed() when one comes into view). */
  add(panel: Panel, root: HTMLElement): void {
    this.panels.push({ panel, root });
  }

  /**
   * Something may have changed: refresh every panel. Calls during a refresh coalesce into one
   * more round; the returned promise settles when the views show the store as of this call.
   */
  changed(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          try {
            this.revision = (await this.api.status()).header?.revision ?? this.revision;
            this.error = "";
          } catch (e) {
            this.error = (e as Error).message; // a server gone: the status line says so
          }
          const shown = this.panels.filter((p) => !p.root.hidden);
          await Promise.all(shown.map((p) => p.panel.refresh().catch((e) => console.warn("panel refresh", e))));
          this.onChanged();
        } while (this.again);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  /** Calls f with every block of text the console prints, until the returned function is called. */
  onOutput(f: (text: string) => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  /** The console printed text. */
  printed(text: string): void {
    for (const f of this.listeners) f(text);
  }

  /** Stops what the console runs (a watch, a keep-alive, a txn being typed). */
  interrupt(): void {
    this.shell.interrupt();
    this.onPrompt();
  }

  /** Runs a console command as if typed (echoed with its prompt), then refreshes. */
  async run(line: string): Promise<void> {
    this.echo(line);
    await this.shell.run(line);
    this.onPrompt();
    void this.changed();
  }

  /** Switches to another store: panels drop their state, the shell follows. */
  use(api: Api): void {
    this.shell.interrupt();
    this.api = api;
    this.shell.api = api;
    this.onPrompt();
    for (const p of this.panels) p.panel.reset?.();
    this.revision = 0n;
    this.error = "";
    void this.changed(); // a refresh under way reads the old store: it goes round once more
  }
}
