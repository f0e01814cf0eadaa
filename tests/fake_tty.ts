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
 * Interprets what the client writes to a terminal: printable clusters (wide
 * ones take two cells), CR, LF, `CSI 2K`, `CSI n C`, `CSI H`, `CSI 2J`; SGR
 * is ignored. Enough to see what a user would see, and where the cursor is.
 */
export class Screen {
  readonly rows: string[][] = [[]];
  x = 0;
  y = 0;
  readonly #columns: number;

  constructor(columns: number) {
    this.#columns = columns;
  }

  write(text: string): void {
    // deno-lint-ignore no-control-regex -- parsing terminal output
    const tokens = text.match(/\x1b\[[0-9;]*[A-Za-z]|\r|\n|[^\x1b\r\n]+/g) ?? [];
    for (const token of tokens) {
      if (token === "\r") this.x = 0;
      else if (token === "\n") {
        this.y++;
        this.rows[this.y] ??= [];
      } else if (token.startsWith("\x1b[")) {
        const n = Number(token.slice(2, -1) || "1");
        switch (token.at(-1)) {
          case "K":
            this.rows[this.y] = [];
            break;
          case "C":
            this.x += n;
            break;
          case "H":
            this.x = this.y = 0;
            break;
          case "J":
            this.rows.splice(0, this.rows.length, []);
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
