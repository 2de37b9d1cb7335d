// The playground's shared state: the store it talks to (this tab or a server), the console
// shell, and a change feed the panels refresh from.
import type { Api } from "./api.js";
import type { Shell } from "./shell/index.js";

/** A view on the right: refresh() redraws it from the store; reset() drops what belonged to the old store. */
export interface Panel {
  refresh(): Promise<void>;
  reset?(): void;
}

export class App {
  /** The store's revision as last seen. */
  revision = 0n;
  private readonly panels: Panel[] = [];
  private refreshing = false;
  private readonly listeners = new Set<(text: string) => void>();
  private again = false;

  constructor(public api: Api, readonly shell: Shell, private readonly echo: (line: string) => void,
    private readonly onChanged: () => void) {}

  add(p: Panel): void {
    this.panels.push(p);
  }

  /** Something may have changed: refresh every panel (coalescing bursts of changes). */
  async changed(): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return;
    }
    this.refreshing = true;
    try {
      do {
        this.again = false;
        try {
          this.revision = (await this.api.status()).header?.revision ?? this.revision;
        } catch {
          // the server may be gone; the panels show their own errors
        }
        await Promise.all(this.panels.map((p) => p.refresh().catch((e) => console.warn("panel refresh", e))));
        this.onChanged();
      } while (this.again);
    } finally {
      this.refreshing = false;
    }
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

  /** Runs a console command as if typed (echoed with its prompt), then refreshes. */
  async run(line: string): Promise<void> {
    this.echo(line);
    await this.shell.run(line);
    void this.changed();
  }

  /** Switches to another store: panels drop their state, the shell follows. */
  use(api: Api): void {
    this.shell.interrupt();
    this.api = api;
    this.shell.api = api;
    for (const p of this.panels) p.reset?.();
    this.revision = 0n;
    void this.changed();
  }
}
