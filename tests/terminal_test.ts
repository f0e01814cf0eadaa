// Unit tests of the terminal owner with fake streams: the interactive mode
// (raw mode, prompt, redraw above a half-typed line) checked on a small
// screen emulator, and the piped mode.

import assert from "@chat/assert";
import { openTerminal } from "../client/terminal.ts";
import { FakeInput, FakeOutput, Screen, until } from "./fake_tty.ts";

const encoder = new TextEncoder();

function tty(columns = 40, rows = 8, options: { bell?: boolean } = {}) {
  const stdin = new FakeInput(true);
  const stdout = new FakeOutput(true);
  const stderr = new FakeOutput(false);
  const size = { columns, rows };
  const terminal = openTerminal({
    stdin,
    stdout,
    stderr,
    color: false,
    columns: () => size.columns,
    rows: () => size.rows,
    signals: false,
    ...options,
  });
  const screen = () => {
    const s = new Screen(size.columns, size.rows);
    s.write(stdout.text);
    return s;
  };
  /** What is on screen, without blank rows. */
  const shown = () => screen().lines().filter((l) => l !== "");
  return { stdin, stdout, stderr, terminal, screen, shown, size };
}

/** Lets queued redraws run. */
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("openTerminal() on a terminal uses raw mode and restores it on close", async () => {
  const { stdin, stdout, terminal } = tty();
  assert.equal(terminal.interactive, true);
  assert.deepEqual(stdin.rawCalls, [true]);
  assert.ok(stdout.text.includes("\x1b[?1049h\x1b[?2004h"), "alternate screen, bracketed paste");
  await terminal.close();
  await terminal.close();
  assert.deepEqual(stdin.rawCalls, [true, false]);
  assert.ok(stdout.text.endsWith("\x1b[?2004l\x1b[?1049l"), "both turned off again");
});

Deno.test("Terminal.print() keeps a half-typed line intact below the window and status line", async () => {
  const { stdin, terminal, screen, shown } = tty();
  terminal.setNick("alice");
  stdin.type("half a 漢字 li");
  await until(() => shown().includes("alice> half a 漢字 li"), "the typed text");
  stdin.type("\x1b[D\x1b"); // Left, then a sequence split across reads
  stdin.type("[D");
  await until(() => screen().x === 7 + 14 - 2, "the cursor to move left twice");
  terminal.print("bob: hi");
  terminal.print("carol: 你好 🎉\n       second line");
  await tick();
  const s = screen();
  assert.deepEqual(s.lines(), [
    "",
    "",
    "",
    "bob: hi",
    "carol: 你好 🎉",
    "       second line",
    " [1:status]",
    "alice> half a 漢字 li",
  ]);
  assert.equal(s.y, 7);
  assert.equal(s.x, 19, "the cursor is back where it was, before 'li'");
  stdin.type("X\r");
  assert.equal(await terminal.readLine(), "half a 漢字 Xli");
  await terminal.close();
});

Deno.test("Terminal.askNick() prompts, says why on a blank answer, and trims", async () => {
  const { stdin, terminal, shown } = tty(60);
  const nick = terminal.askNick();
  await tick();
  assert.equal(shown().at(-1), "nickname:");
  stdin.type("  \r");
  await until(() => shown().some((l) => l.includes("a nickname is needed")), "the reason");
  stdin.type(" zoë \r");
  assert.equal(await nick, "zoë");
  terminal.print("* welcome, zoë!");
  terminal.setNick("zoë");
  await tick();
  assert.deepEqual(shown().slice(-3), ["* welcome, zoë!", " [1:status]", "zoë>"]);
  assert.ok(shown().includes("nickname: zoë"));
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

Deno.test("Terminal input wider than the terminal scrolls, marked at the left", async () => {
  const { stdin, terminal, screen, shown } = tty(20);
  terminal.setNick("al");
  stdin.type("0123456789abcdefghijklmnopqrstuvwxyz");
  await until(() => shown().at(-1)?.endsWith("xyz") ?? false, "the end of the line");
  assert.equal(shown().at(-1), "al> <mnopqrstuvwxyz");
  assert.equal(screen().x, 19);
  stdin.type("\x01"); // Ctrl+A
  await until(() => screen().x === 4, "home");
  assert.equal(shown().at(-1), "al> 0123456789abcde");
  await terminal.close();
});

Deno.test("Terminal wraps long lines at words with a hanging indent, and redraws on resize", async () => {
  const { terminal, screen, shown, size } = tty(24, 8);
  terminal.setNick("al");
  const screen_ = terminal.screen!;
  screen_.add(screen_.windows.current, {
    text: "bob: the quick brown fox jumps over the lazy dog",
    indent: 5,
    ts: 0,
  });
  await tick();
  assert.deepEqual(shown().slice(0, -2), [
    "bob: the quick brown fox",
    "     jumps over the lazy",
    "     dog",
  ]);
  size.columns = 40;
  terminal.screen!.refresh();
  await tick();
  const s = screen();
  assert.deepEqual(s.lines().filter((l) => l !== "").slice(0, -2), [
    "bob: the quick brown fox jumps over the",
    "     lazy dog",
  ]);
  await terminal.close();
});

Deno.test("Terminal marks a change of day in a window with a line of its own", async () => {
  const { terminal, shown } = tty(50, 8);
  terminal.setNick("al");
  const screen = terminal.screen!;
  const window = screen.windows.current;
  const evening = new Date(2026, 11, 1, 23, 59).getTime();
  screen.add(window, { text: "bob: late", indent: 5, ts: evening });
  screen.add(window, { text: "bob: early", indent: 5, ts: evening + 2 * 60_000 });
  await tick();
  assert.deepEqual(shown().slice(0, -2), [
    "bob: late",
    "* — Wednesday, 2 December 2026 —",
    "bob: early",
  ]);
  await terminal.close();
});

Deno.test("Terminal cuts a prompt wider than half the terminal", async () => {
  const { terminal, shown } = tty(20);
  terminal.setNick("a-very-long-nickname");
  await tick();
  assert.equal(shown().at(-1), "a-very-…>");
  await terminal.close();
});

Deno.test("Terminal: windows switch with Alt+N, Alt+arrows, Ctrl+N/P; PgUp scrolls", async () => {
  const { stdin, terminal, shown } = tty(40, 6);
  const screen = terminal.screen!;
  terminal.setNick("al");
  const lobby = screen.windows.open("room", "#lobby");
  const dev = screen.windows.open("room", "#dev");
  for (let i = 1; i <= 8; i++) screen.add(lobby, { text: `lobby ${i}`, indent: 2, ts: 0 });
  screen.add(dev, { text: "dev line", indent: 2, ts: 0 });
  await tick();
  assert.deepEqual(shown(), [
    "lobby 5",
    "lobby 6",
    "lobby 7",
    "lobby 8",
    " [1:#lobby] 2:#dev(1)",
    "al #lobby>",
  ]);
  stdin.type("\x1b2");
  await until(() => shown().at(-1) === "al #dev>", "window 2");
  assert.deepEqual(shown(), ["dev line", " 1:#lobby [2:#dev]", "al #dev>"]);
  stdin.type("\x1b[1;3D"); // Alt+Left
  await until(() => shown().at(-1) === "al #lobby>", "back to window 1");
  stdin.type("\x0e"); // Ctrl+N
  await until(() => shown().at(-1) === "al #dev>", "next window");
  stdin.type("\x10"); // Ctrl+P
  await until(() => shown().at(-1) === "al #lobby>", "previous window");
  stdin.type("\x1b[5~"); // PgUp
  await until(() => shown()[0] === "lobby 2", "scrolled back");
  assert.ok(shown().at(-2)!.includes("-- more below --"));
  // New lines while scrolled back leave the view where it is.
  screen.add(lobby, { text: "lobby 9", indent: 2, ts: 0 });
  screen.add(lobby, { text: "a long line ".repeat(5).trim(), indent: 2, ts: 0 });
  await tick();
  assert.equal(shown()[0], "lobby 2");
  stdin.type("\x1b[6~"); // PgDn
  await until(() => shown()[0] === "lobby 5", "one page down (of 3 rows: one row overlaps)");
  stdin.type("\x1b[6~");
  await until(() => shown()[0] === "lobby 8", "at the bottom again");
  assert.ok(!shown().at(-2)!.includes("-- more below --"));
  await terminal.close();
});

Deno.test("Terminal: a status line too narrow for every window keeps the current one and the active ones", async () => {
  const { terminal, shown, size } = tty(40, 6);
  const screen = terminal.screen!;
  terminal.setNick("al");
  const lobby = screen.windows.open("room", "#lobby");
  for (const name of ["#design", "#dev", "#ops", "#random"]) screen.windows.open("room", name);
  const bob = screen.windows.open("query", "bob");
  screen.add(screen.windows.find("room", "#ops")!, { text: "ops line", indent: 2, ts: 0 });
  screen.add(bob, { text: "psst", indent: 2, ts: 0, highlight: true });
  await tick();
  assert.equal(screen.windows.current, lobby);
  assert.equal(shown().at(-2), " [1:#lobby] 4:#ops(1) 6:@bob(1!) +3 more");
  size.columns = 80;
  screen.refresh();
  await tick();
  assert.equal(
    shown().at(-2),
    " [1:#lobby] 2:#design 3:#dev 4:#ops(1) 5:#random 6:@bob(1!)",
    "all of them when they fit",
  );
  await terminal.close();
  const narrow = tty(8, 6);
  narrow.terminal.setNick("al");
  narrow.terminal.screen!.windows.open("room", "#lobby");
  narrow.terminal.screen!.windows.open("room", "#dev");
  narrow.terminal.screen!.refresh();
  await tick();
  assert.equal(narrow.shown().at(-2), " [1:#lob", "the current one alone, cut");
  await narrow.terminal.close();
});

Deno.test("Terminal: Tab completes from the sources; a bracketed paste is one multi-line line", async () => {
  const { stdin, terminal, shown } = tty(60, 8);
  const screen = terminal.screen!;
  terminal.setNick("al");
  screen.completion = () => ({ commands: ["/join"], rooms: ["#dev"], nicks: ["bob", "bert"] });
  stdin.type("b\t");
  await until(() => shown().at(-1) === "al> bob:", "the first match");
  stdin.type("\t");
  await until(() => shown().at(-1) === "al> bert:", "the next match");
  stdin.type("\x15/jo\t#d\t\r");
  assert.equal(await terminal.readLine(), "/join #dev ");
  stdin.type("\x1b[200~one\r\ntwo\x1b[201~\r");
  assert.equal(await terminal.readLine(), "one\ntwo");
  await terminal.close();
});

Deno.test("Terminal asks for a second Enter before sending a long paste", async () => {
  const { stdin, terminal, shown } = tty(80, 10);
  terminal.setNick("al");
  const paste = Array.from({ length: 8 }, (_, i) => `line ${i}`).join("\n");
  stdin.type(`\x1b[200~${paste}\x1b[201~\r`);
  await until(() => shown().some((l) => l.includes("send 8 lines")), "the question");
  stdin.type("\r");
  assert.equal(await terminal.readLine(), paste);
  await terminal.close();
});

Deno.test("Terminal.bell() rings unless the bell is off", async () => {
  const on = tty();
  on.terminal.screen!.bell();
  assert.equal(on.screen().bells, 1);
  await on.terminal.close();
  const off = tty(40, 8, { bell: false });
  off.terminal.screen!.bell();
  assert.equal(off.screen().bells, 0);
  await off.terminal.close();
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
