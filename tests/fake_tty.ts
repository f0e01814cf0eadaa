// Fakes of a terminal for tests of the interactive client: a stdin the test
// types into, a stdout that keeps everything, and a tiny screen emulator that
// shows what a user would see.

import assert from "@chat/assert";
import type { ClientInput, ClientOutput } from "../client/terminal.ts";
import { clusterWidth, graphemes } from "../client/width.ts";

const encoder = new TextEncoder();

/** A fake stdin: bytes are pushed by the test. */
export class FakeInput implements ClientInput {
  readonly readable: ReadableStream<Uint8Array>;
  readonly rawCalls: boolean[] = [];
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  readonly #terminal: boolean;

  constructor(terminal: boolean) {
    this.#terminal = terminal;
    this.readable = new ReadableStream({ start: (c) => void (this.#controller = c) });
  }

  isTerminal(): boolean {
    return this.#terminal;
  }

  setRaw(mode: boolean): void {
    this.rawCalls.push(mode);
  }

  type(text: string | Uint8Array): void {
    this.#controller.enqueue(typeof text === "string" ? encoder.encode(text) : text);
  }

  end(): void {
    this.#controller.close();
  }
}

/** A fake stdout that keeps everything written, and a tiny VT screen. */
export class FakeOutput implements ClientOutput {
  readonly #decoder = new TextDecoder();
  readonly #terminal: boolean;
  text = "";

  constructor(terminal: boolean) {
    this.#terminal = terminal;
  }

  writeSync(data: Uint8Array): number {
    this.text += this.#decoder.decode(data, { stream: true });
    return data.length;
  }

  isTerminal(): boolean {
    return this.#terminal;
  }
}

/**
 * Interprets what the client writes to a terminal of `columns` × `rows`
 * cells: printable clusters (wide ones take two cells), CR, LF, BEL
 * (counted), `CSI row;col H`, `CSI K`/`2K`, `CSI J`/`2J`, `CSI n C`; SGR and
 * mode changes (`CSI ? … h/l`) are ignored. Enough to see what a user would
 * see, and where the cursor is.
 */
export class Screen {
  readonly rows: string[][];
  x = 0;
  y = 0;
  bells = 0;
  readonly #columns: number;
  readonly #height: number;

  constructor(columns: number, rows = 24) {
    this.#columns = columns;
    this.#height = rows;
    this.rows = Array.from({ length: rows }, () => []);
  }

  write(text: string): void {
    // deno-lint-ignore no-control-regex -- parsing terminal output
    const tokens = text.match(/\x1b\[[?0-9;]*[A-Za-z~]|\r|\n|\x07|[^\x1b\r\n\x07]+/g) ?? [];
    for (const token of tokens) {
      if (token === "\r") this.x = 0;
      else if (token === "\x07") this.bells++;
      else if (token === "\n") {
        if (this.y < this.#height - 1) this.y++;
        else {
          this.rows.shift();
          this.rows.push([]);
        }
      } else if (token.startsWith("\x1b[")) {
        if (token[2] === "?") continue;
        const params = token.slice(2, -1);
        const n = Number(params || "1");
        switch (token.at(-1)) {
          case "K":
            this.rows[this.y] = this.rows[this.y]!.slice(0, params === "2" ? 0 : this.x);
            if (params === "2") this.rows[this.y] = [];
            break;
          case "C":
            this.x += n;
            break;
          case "H": {
            const [row, col] = params.split(";").map((p) => Number(p || "1"));
            this.y = Math.min(this.#height, row ?? 1) - 1;
            this.x = (col ?? 1) - 1;
            break;
          }
          case "J":
            for (let r = 0; r < this.#height; r++) this.rows[r] = [];
            break;
        }
      } else {
        for (const cluster of graphemes(token)) {
          const row = this.rows[this.y]!;
          while (row.length < this.x) row.push(" ");
          row[this.x] = cluster;
          const width = clusterWidth(cluster);
          if (width === 2) row[this.x + 1] = "";
          this.x += width;
          assert.ok(this.x <= this.#columns, `wrote past column ${this.#columns}: ${token}`);
        }
      }
    }
  }

  lines(): string[] {
    return this.rows.map((r) => r.join("").trimEnd());
  }
}

/** Waits (by yielding to the event loop) until a condition holds. */
export async function until(
  condition: () => boolean,
  what: string,
  timeoutMs = 2000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
