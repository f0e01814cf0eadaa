// Unit tests of the terminal owner with fake streams: the interactive mode
// (raw mode, prompt, redraw above a half-typed line) checked on a small
// screen emulator, and the piped mode.

import assert from "@chat/assert";
import { type ClientInput, type ClientOutput, openTerminal } from "../client/terminal.ts";
import { clusterWidth, graphemes } from "../client/width.ts";

const encoder = new TextEncoder();

/** A fake stdin: bytes are pushed by the test. */
class FakeInput implements ClientInput {
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
class FakeOutput implements ClientOutput {
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
class Screen {
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
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

function tty(columns = 40) {
  const stdin = new FakeInput(true);
  const stdout = new FakeOutput(true);
  const stderr = new FakeOutput(false);
  const terminal = openTerminal({
    stdin,
    stdout,
    stderr,
    color: false,
    columns: () => columns,
    signals: false,
  });
  const screen = () => {
    const s = new Screen(columns);
    s.write(stdout.text);
    return s;
  };
  return { stdin, stdout, stderr, terminal, screen };
}

Deno.test("openTerminal() on a terminal uses raw mode and restores it on close", async () => {
  const { stdin, terminal } = tty();
  assert.equal(terminal.interactive, true);
  assert.deepEqual(stdin.rawCalls, [true]);
  await terminal.close();
  await terminal.close();
  assert.deepEqual(stdin.rawCalls, [true, false]);
});

Deno.test("Terminal.print() keeps a half-typed line intact below new lines", async () => {
  const { stdin, terminal, screen } = tty();
  terminal.setNick("alice");
  stdin.type("half a 漢字 li");
  await until(() => screen().lines().includes("alice> half a 漢字 li"), "the typed text");
  stdin.type("\x1b[D\x1b"); // Left, then a sequence split across reads
  stdin.type("[D");
  await until(() => screen().x === 7 + 14 - 2, "the cursor to move left twice");
  terminal.print("bob: hi");
  terminal.print("carol: 你好 🎉\n       second line");
  const s = screen();
  assert.deepEqual(s.lines(), [
    "bob: hi",
    "carol: 你好 🎉",
    "       second line",
    "alice> half a 漢字 li",
  ]);
  assert.equal(s.y, 3);
  assert.equal(s.x, 19, "the cursor is back where it was, before 'li'");
  stdin.type("X\r");
  assert.equal(await terminal.readLine(), "half a 漢字 Xli");
  await terminal.close();
});

Deno.test("Terminal.askNick() prompts, keeps the nickname on screen and trims it", async () => {
  const { stdin, terminal, screen } = tty();
  const nick = terminal.askNick();
  stdin.type(" zoë \r");
  assert.equal(await nick, "zoë");
  terminal.print("* welcome, zoë!");
  terminal.setNick("zoë");
  assert.deepEqual(screen().lines(), ["nickname:  zoë", "* welcome, zoë!", "zoë>"]);
  await terminal.close();
});

Deno.test("Terminal.readLine() ends on Ctrl+D or Ctrl+C on an empty line", async (t) => {
  for (const [name, key] of [["Ctrl+D", "\x04"], ["Ctrl+C", "\x03"]] as const) {
    await t.step(name, async () => {
      const { stdin, terminal } = tty();
      terminal.setNick("a");
      stdin.type(`one\r   \rtwo\x03${key}`);
      assert.equal(await terminal.readLine(), "one");
      assert.equal(await terminal.readLine(), undefined, "two was abandoned by Ctrl+C");
      await terminal.close();
    });
  }
});

Deno.test("Terminal input wider than the terminal scrolls instead of wrapping", async () => {
  const { stdin, terminal, screen } = tty(20);
  terminal.setNick("al");
  stdin.type("0123456789abcdefghijklmnopqrstuvwxyz");
  await until(() => screen().lines().at(-1)!.endsWith("xyz"), "the end of the line");
  assert.deepEqual(screen().lines(), ["al> lmnopqrstuvwxyz"]);
  assert.equal(screen().x, 19);
  stdin.type("\x01"); // Ctrl+A
  await until(() => screen().x === 4, "home");
  assert.deepEqual(screen().lines(), ["al> 0123456789abcde"]);
  terminal.print("a message");
  assert.deepEqual(screen().lines(), ["a message", "al> 0123456789abcde"]);
  await terminal.close();
});

Deno.test("openTerminal() on pipes reads lines and writes plain lines", async () => {
  const stdin = new FakeInput(false);
  const stdout = new FakeOutput(false);
  const stderr = new FakeOutput(false);
  const terminal = openTerminal({ stdin, stdout, stderr, signals: false });
  assert.equal(terminal.interactive, false);
  assert.equal(terminal.theme.color, false);
  const bytes = encoder.encode("alice\n\nhé🎉\r\nlast");
  stdin.type(bytes.subarray(0, 10)); // splits the emoji
  stdin.type(bytes.subarray(10));
  stdin.end();
  assert.equal(await terminal.askNick(), "alice");
  assert.equal(await terminal.readLine(), "hé🎉");
  assert.equal(await terminal.readLine(), "last");
  assert.equal(await terminal.readLine(), undefined);
  terminal.print("bob: hi");
  terminal.warn("! usage: /who");
  assert.equal(stdout.text, "bob: hi\n");
  assert.equal(stderr.text, "! usage: /who\n");
  assert.deepEqual(stdin.rawCalls, []);
  await terminal.close();
});
