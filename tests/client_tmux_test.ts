// The terminal client in a real terminal: tmux runs `main.ts client` (with
// the permissions of `deno task client`) against the real server; the test
// types with `send-keys`, pastes with `paste-buffer -p` (bracketed), reads
// the screen with `capture-pane` (`-e`: with its colours), and sees the bell
// in `window_bell_flag`. Covered: windows (Alt+N, Alt+arrows, Ctrl+N/P,
// /window N, PgUp/PgDn, /query), mentions, the bell and --no-bell,
// timestamps and --no-timestamps, 256 nickname colours, Tab completion,
// pastes and Alt+Enter, quitting while offline, resizing.
// Waits are for what the screen shows, with deadlines.

import assert from "@chat/assert";
import {
  CLIENT_PERMISSIONS,
  DEADLINE_MS,
  DENO_DIR,
  freePort,
  MAIN,
  startTestServer,
  TestClient,
  type TestServer,
} from "./test_util.ts";

/** One tmux server (its own socket) with one window running the client. */
class Tmux implements AsyncDisposable {
  readonly socket = `chat-test-${crypto.randomUUID().slice(0, 8)}`;
  readonly home: string;

  private constructor(home: string) {
    this.home = home;
  }

  /** Starts the client for `nick` in a `columns` × `rows` terminal. */
  static async start(
    port: number,
    nick: string,
    options: {
      columns?: number;
      rows?: number;
      args?: string[];
      /** Files to put in the client's HOME first, by path under it. */
      files?: Record<string, string>;
      /** More environment variables; `$HOME` in a value becomes the client's HOME. */
      env?: Record<string, string>;
    } = {},
  ): Promise<Tmux> {
    const home = await Deno.makeTempDir({ prefix: "chat_tmux_test_" });
    const tmux = new Tmux(home);
    for (const [path, text] of Object.entries(options.files ?? {})) {
      await Deno.mkdir(`${home}/${path.slice(0, path.lastIndexOf("/"))}`, { recursive: true });
      await Deno.writeTextFile(`${home}/${path}`, text);
    }
    const permissions = CLIENT_PERMISSIONS.map((p) => p.replaceAll("$HOME", home));
    const argv = [
      Deno.execPath(),
      "run",
      ...permissions,
      MAIN,
      "client",
      "127.0.0.1",
      String(port),
      "--nick",
      nick,
      ...(options.args ?? []),
    ];
    const env = [
      `HOME=${home}`,
      `DENO_DIR=${DENO_DIR}`,
      "LANG=C.UTF-8",
      "TERM=tmux-256color",
      ...Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v.replaceAll("$HOME", home)}`),
    ];
    // The shell writes the client's exit code to a file (tmux's own record of
    // it, pane_dead_status, can lag behind the pane's death under load).
    const shell = `"$@"; echo $? > '${home}/exit-code'`;
    const command = ["env", "-i", ...env, "sh", "-c", shell, "sh", ...argv]
      .map((a) => `'${a.replaceAll("'", "'\\''")}'`)
      .join(" ");
    await tmux.run(
      "-f",
      "/dev/null",
      "new-session",
      "-d",
      "-x",
      String(options.columns ?? 80),
      "-y",
      String(options.rows ?? 20),
      command,
    );
    await tmux.run("set-option", "-g", "remain-on-exit", "on");
    await tmux.run("set-option", "-g", "status", "off");
    return tmux;
  }

  /** Runs a tmux command on this server; its stdout. */
  async run(...args: string[]): Promise<string> {
    const out = await new Deno.Command("tmux", { args: ["-L", this.socket, ...args] }).output();
    if (!out.success) {
      throw new Error(`tmux ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
    }
    return new TextDecoder().decode(out.stdout);
  }

  /** Types keys (tmux key names, e.g. `Enter`, `M-1`, `C-c`) or, with `literal`, text. */
  keys(keys: string[], literal = false): Promise<string> {
    return this.run("send-keys", "-t", "0", ...(literal ? ["-l"] : []), ...keys);
  }

  /** Pastes text as a terminal does with bracketed paste on (`paste-buffer -p`). */
  async paste(text: string): Promise<void> {
    await this.run("set-buffer", text);
    await this.run("paste-buffer", "-p", "-t", "0");
  }

  /** Types text, then Enter. */
  async line(text: string): Promise<void> {
    await this.keys([text], true);
    await this.keys(["Enter"]);
  }

  /** The screen's rows; with `escapes`, with their SGR sequences. */
  async screen(escapes = false): Promise<string[]> {
    const text = await this.run("capture-pane", "-p", ...(escapes ? ["-e"] : []), "-t", "0");
    return text.replace(/\n$/, "").split("\n");
  }

  /** A tmux format of the pane or window, e.g. `#{window_bell_flag}`. */
  async format(format: string): Promise<string> {
    return (await this.run("display-message", "-p", "-t", "0", format)).trim();
  }

  /** Waits until the screen satisfies `ok`. */
  async until(ok: (rows: string[]) => boolean, what: string, timeoutMs = DEADLINE_MS) {
    const deadline = Date.now() + timeoutMs;
    let rows: string[] = [];
    while (Date.now() < deadline) {
      rows = await this.screen();
      if (ok(rows)) return rows;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`timed out waiting for ${what}; the screen:\n${rows.join("\n")}`);
  }

  /** Waits for a row that contains `text`. */
  shows(text: string): Promise<string[]> {
    return this.until((rows) => rows.some((r) => r.includes(text)), JSON.stringify(text));
  }

  /** Waits for the client to exit; its exit code. */
  async exitCode(timeoutMs = DEADLINE_MS): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const text = await Deno.readTextFile(`${this.home}/exit-code`).catch(() => "");
      if (/^\d+\n$/.test(text)) return Number(text);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error("the client did not exit");
  }

  /** Waits until the status line matches `pattern`; the status line. */
  async statusIs(pattern: RegExp): Promise<string> {
    const deadline = Date.now() + DEADLINE_MS;
    let status = "";
    while (Date.now() < deadline) {
      status = await this.status();
      if (pattern.test(status)) return status;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`timed out waiting for the status line ${pattern}; it is ${status}`);
  }

  /** Waits for the input line (the bottom row) to start with `prompt`. */
  prompt(prompt: string): Promise<string[]> {
    return this.until(
      (rows) => rows.filter((r) => r.trim() !== "").at(-1)?.startsWith(prompt) ?? false,
      `the input line ${JSON.stringify(prompt)}`,
    );
  }

  /** The status line (the row above the input line). */
  async status(): Promise<string> {
    const rows = (await this.screen()).filter((r) => r.trim() !== "");
    return rows.at(-2) ?? "";
  }

  async [Symbol.asyncDispose](): Promise<void> {
    // The client saves its input history under HOME as it exits, after the
    // pane is gone: wait (at most 10 s) for the pane's processes to end, or
    // the save recreates the HOME just removed and it is left in /tmp.
    const pane = (await this.run("list-panes", "-F", "#{pane_pid}").catch(() => "")).trim();
    const sh = (script: string) =>
      new Deno.Command("bash", { args: ["-c", script, "bash", pane], stdout: "piped" }).output();
    const pids = /^\d+$/.test(pane)
      ? `${pane} ${new TextDecoder().decode((await sh("pgrep -P $1; true")).stdout)}`.trim()
      : "";
    await this.run("kill-server").catch(() => "");
    for (const pid of pids.split(/\s+/).filter((p) => /^\d+$/.test(p))) {
      await sh(`timeout 10 tail --pid=${pid} -f /dev/null; true`);
    }
    await Deno.remove(this.home, { recursive: true }).catch(() => {});
  }
}

async function withServer(fn: (server: TestServer) => Promise<void>): Promise<void> {
  await using server = await startTestServer();
  await fn(server);
}

Deno.test("tmux: windows (switching, scrolling, /query), mentions and the bell, completion", async (t) => {
  await withServer(async (server) => {
    await using bob = await TestClient.joinJson(server.port, "bob");
    await using alice = await Tmux.start(server.port, "alice");
    await alice.shows("alice #lobby>");

    await t.step("/join opens a window; the status line lists both", async () => {
      await alice.line("/join #dev");
      await alice.until((rows) => rows.some((r) => r.startsWith("alice #dev>")), "the #dev prompt");
      assert.match(await alice.status(), /1:#lobby \[2:#dev\]/);
    });

    await t.step("a mention in the window you look at is highlighted, rings nothing", async () => {
      await bob.sendFrame({ type: "join", room: "#dev" });
      await bob.sendFrame({ type: "say", room: "#dev", text: "alice: look here" });
      await alice.shows("bob: alice: look here");
      const rows = await alice.screen();
      assert.ok(
        rows.some((r) => /^\[\d\d:\d\d\] bob: alice: look here/.test(r)),
        `a live line carries its local time: ${rows.join("\n")}`,
      );
      const styled = (await alice.screen(true)).find((r) => r.includes("look here"))!;
      assert.ok(
        styled.includes("\x1b[1;33m") || styled.includes("\x1b[1m\x1b[33m"),
        `bold yellow text: ${JSON.stringify(styled)}`,
      );
      // deno-lint-ignore no-control-regex -- the terminal's own colour sequences
      const color256 = /\x1b\[(?:[\d;]*;)?38;5;\d+m/;
      assert.match(styled, color256, "256-colour nicknames (TERM=tmux-256color)");
      assert.equal(await alice.format("#{window_bell_flag}"), "0");
    });

    await t.step("a mention in another window marks it and rings the bell", async () => {
      await bob.sendFrame({ type: "say", room: "#lobby", text: "ALICE, lunch?" });
      await alice.statusIs(/1:#lobby\(1!\) \[2:#dev\]/);
      assert.equal(await alice.format("#{window_bell_flag}"), "1");
    });

    await t.step("Alt+1 switches and redraws that window's lines", async () => {
      await alice.keys(["M-1"]);
      await alice.shows("bob: ALICE, lunch?");
      assert.match(await alice.status(), /\[1:#lobby\] 2:#dev/);
    });

    await t.step("Alt+→ / Alt+←, Ctrl+N / Ctrl+P and /window N switch too", async () => {
      await alice.keys(["M-Right"]);
      await alice.prompt("alice #dev>");
      await alice.shows("bob: alice: look here");
      await alice.keys(["M-Left"]);
      await alice.prompt("alice #lobby>");
      await alice.keys(["C-n"]);
      await alice.prompt("alice #dev>");
      await alice.keys(["C-p"]);
      await alice.prompt("alice #lobby>");
      // rxvt and PuTTY send Alt+→ / Alt+← as ESC, then the arrow.
      await alice.keys(["-H", "1b", "1b", "5b", "43"]);
      await alice.prompt("alice #dev>");
      await alice.keys(["-H", "1b", "1b", "5b", "44"]);
      await alice.prompt("alice #lobby>");
      await alice.line("/window 2");
      await alice.prompt("alice #dev>");
      await alice.statusIs(/1:#lobby \[2:#dev\]/);
      await alice.line("/window 7");
      await alice.shows("! usage: /window N (N from 1 to 2)");
      await alice.line("/window 1");
      await alice.prompt("alice #lobby>");
    });

    await t.step("PgUp and PgDn scroll the window, and only that one", async () => {
      for (let i = 1; i <= 30; i++) {
        await bob.sendFrame({ type: "say", room: "#lobby", text: `numbered ${i}`, ref: `n${i}` });
        await bob.expectFrame((f) => f.type === "ack" && f.ref === `n${i}`);
      }
      await alice.shows("bob: numbered 30");
      const atBottom = await alice.screen();
      assert.ok(!atBottom.some((r) => r.includes("bob: numbered 5")), "numbered 5 is off screen");
      await alice.keys(["PPage"]);
      await alice.shows("-- more below --");
      const back = await alice.screen();
      assert.ok(back.some((r) => r.includes("bob: numbered 5")), back.join("\n"));
      assert.ok(!back.some((r) => r.includes("bob: numbered 30")), back.join("\n"));
      // Another window is drawn from its bottom; back here, the scroll is kept.
      await alice.keys(["M-2"]);
      await alice.shows("bob: alice: look here");
      await alice.keys(["M-1"]);
      await alice.shows("bob: numbered 5");
      await alice.keys(["NPage"]);
      await alice.until(
        (rows) =>
          rows.some((r) => r.includes("bob: numbered 30")) &&
          !rows.some((r) => r.includes("-- more below --")),
        "the bottom again",
      );
    });

    await t.step("Tab completes a nickname of the room at the start of a line", async () => {
      await alice.keys(["b", "Tab"]);
      await alice.until((rows) => rows.some((r) => r.startsWith("alice #lobby> bob:")), "bob:");
      await alice.line("see you at 1");
      const said = await bob.expectFrame((f) => f.type === "message" && f.from === "alice");
      assert.equal(said.type === "message" && said.text, "bob: see you at 1");
      await alice.shows("alice: bob: see you at 1");
    });

    await t.step("Tab completes commands and rooms too", async () => {
      await alice.keys(["/jo"], true);
      await alice.keys(["Tab"]);
      await alice.prompt("alice #lobby> /join");
      await alice.keys(["#d"], true);
      await alice.keys(["Tab"]);
      await alice.prompt("alice #lobby> /join #dev");
      await alice.keys(["C-u"]);
      await alice.until((rows) => rows.at(-1)!.trimEnd() === "alice #lobby>", "an empty input");
      // A room alice is not in completes once a /rooms listing named it.
      await bob.sendFrame({ type: "join", room: "#random" });
      await bob.expectFrame((f) => f.type === "room" && f.room === "#random");
      await alice.line("/rooms");
      await alice.shows("#random");
      await alice.keys(["/join #ra"], true);
      await alice.keys(["Tab"]);
      await alice.prompt("alice #lobby> /join #random");
      await alice.keys(["C-u"]);
      await alice.until((rows) => rows.at(-1)!.trimEnd() === "alice #lobby>", "an empty input");
    });

    await t.step("a private message opens its own window, marked in the status line", async () => {
      await bob.sendFrame({ type: "msg", to: "alice", text: "psst" });
      await alice.statusIs(/3:@bob\(1!\)/);
      await alice.keys(["M-3"]);
      await alice.shows("[private] bob: psst");
    });

    await t.step("/query NICK opens a conversation window; its lines go to NICK", async () => {
      await using carol = await TestClient.joinJson(server.port, "carol");
      await alice.line("/query carol");
      await alice.prompt("alice @carol>");
      await alice.statusIs(/3:@bob \[4:@carol\]/);
      await alice.line("just between us");
      const said = await carol.expectFrame((f) => f.type === "private" && f.from === "alice");
      assert.equal(said.type === "private" && said.text, "just between us");
      await alice.shows("[private to carol] just between us");
      await alice.until((rows) => !rows.some((r) => r.includes("…")), "the ack (no … mark)");
    });
  });
});

Deno.test("tmux: a bracketed paste of several lines is one multi-line message", async (t) => {
  await withServer(async (server) => {
    await using bob = await TestClient.joinJson(server.port, "bob");
    await using alice = await Tmux.start(server.port, "alice", { args: ["--no-timestamps"] });
    await alice.shows("alice #lobby>");
    const said = async () => {
      const frame = await bob.expectFrame((f) => f.type === "message" && f.from === "alice");
      return frame.type === "message" ? frame.text : "";
    };

    await t.step("a paste of three lines", async () => {
      await alice.paste("first line\nsecond line\nthird line");
      await alice.shows("first line↵second line↵third line");
      await alice.keys(["Enter"]);
      assert.equal(await said(), "first line\nsecond line\nthird line");
      await alice.shows("alice: first line");
      await alice.shows("       second line");
    });

    await t.step("Alt+Enter starts a new line in the message", async () => {
      await alice.keys(["top"], true);
      await alice.keys(["M-Enter"]);
      await alice.keys(["bottom"], true);
      await alice.shows("top↵bottom");
      await alice.keys(["Enter"]);
      assert.equal(await said(), "top\nbottom");
      await alice.shows("alice: top");
      await alice.shows("       bottom");
    });

    await t.step("a long paste waits for a second Enter", async () => {
      const paste = Array.from({ length: 8 }, (_, i) => `pasted ${i + 1}`).join("\n");
      await alice.paste(paste);
      await alice.keys(["Enter"]);
      await alice.shows("* send 8 lines (71 characters) as one message?");
      assert.ok(!bob.lines.seen.some((l) => l.includes("pasted 1")), "not sent yet");
      await alice.keys(["Enter"]);
      assert.equal(await said(), paste);
      await alice.shows("       pasted 8");
    });
  });
});

Deno.test("tmux: --no-bell and --no-timestamps", async () => {
  await withServer(async (server) => {
    await using bob = await TestClient.joinJson(server.port, "bob");
    await using alice = await Tmux.start(server.port, "alice", {
      args: ["--no-bell", "--no-timestamps"],
    });
    await alice.shows("alice #lobby>");
    await alice.line("/join #dev");
    await alice.prompt("alice #dev>");
    await bob.sendFrame({ type: "say", room: "#lobby", text: "alice: still there?" });
    // The bell would have been written before the redraw that shows the mark.
    await alice.statusIs(/1:#lobby\(1!\) \[2:#dev\]/);
    await bob.sendFrame({ type: "msg", to: "alice", text: "psst" });
    await alice.statusIs(/3:@bob\(1!\)/);
    assert.equal(await alice.format("#{window_bell_flag}"), "0", "no bell");
    await alice.keys(["M-1"]);
    const rows = await alice.shows("bob: alice: still there?");
    assert.ok(rows.some((r) => r.startsWith("bob: alice: still there?")), rows.join("\n"));
  });
});

Deno.test("tmux: Ctrl+C, Ctrl+D and /quit work at once while the server is away with a line queued", async () => {
  const server = await startTestServer();
  try {
    const quits = [["alice", ["C-c"]], ["bob", ["C-d"]], ["carol", ["/quit", "Enter"]]] as const;
    await using alice = await Tmux.start(server.port, "alice", { args: ["--retry-delay", "200"] });
    await using bob = await Tmux.start(server.port, "bob", { args: ["--retry-delay", "200"] });
    await using carol = await Tmux.start(server.port, "carol", { args: ["--retry-delay", "200"] });
    const clients = { alice, bob, carol };
    for (const [nick] of quits) await clients[nick].shows(`${nick} #lobby>`);
    await server.stop("SIGKILL");
    for (const [nick] of quits) {
      const client = clients[nick];
      await client.shows(`${nick} #lobby (offline)>`);
      await client.line("queued while away");
      await client.shows(`${nick}: queued while away …`);
    }
    for (const [nick, keys] of quits) {
      const client = clients[nick];
      if (keys.length === 2) await client.keys([keys[0]], true);
      await client.keys([keys.at(-1)!]);
      assert.equal(await client.exitCode(), 0, `${nick} exited by itself with code 0`);
    }
  } finally {
    await server.stop("SIGKILL");
  }
});

Deno.test("tmux: a resize re-wraps the window, with nothing left over", async () => {
  await withServer(async (server) => {
    await using bob = await TestClient.joinJson(server.port, "bob");
    await using alice = await Tmux.start(server.port, "alice", { columns: 80, rows: 12 });
    await alice.shows("alice #lobby>");
    const long = "the quick brown fox jumps over the lazy dog";
    await bob.sendFrame({ type: "say", text: long });
    await alice.shows(`bob: ${long}`);
    await alice.run("resize-window", "-t", "0", "-x", "30", "-y", "12");
    const rows = await alice.until(
      (rows) => rows.some((r) => r.trimEnd().endsWith("bob: the quick brown")),
      "the re-wrapped message",
    );
    for (const row of rows) assert.ok(row.trimEnd().length <= 30, JSON.stringify(row));
    assert.ok(
      rows.map((r) => r.trim()).join(" ").includes(
        "bob: the quick brown fox jumps over the lazy dog",
      ),
    );
    assert.equal(rows.filter((r) => r.includes("[1:#lobby]")).length, 1, "one status line");
    assert.ok(rows.at(-1)!.startsWith("alice #lobby>"), "the input line at the bottom");
    // Continuation rows hang under the text, not under the time or the nickname.
    const at = rows.findIndex((r) => r.includes("bob: the quick brown"));
    const indent = rows[at]!.indexOf("the quick");
    assert.equal(rows[at + 1]!.search(/\S/), indent);
  });
});

Deno.test("tmux: --tls on a real terminal asks to pin a new certificate, then refuses a changed one", async () => {
  const tlsPort = freePort();
  const pinFile = ".config/chat/known_hosts";
  let pins: string;
  {
    await using server = await startTestServer(["--tls-port", String(tlsPort)]);
    await using alice = await Tmux.start(tlsPort, "alice", { args: ["--tls"] });
    await alice.shows("Pin it and connect? (yes/no, or paste the fingerprint)");
    await alice.shows(`Its fingerprint is ${server.fingerprint}`);
    await alice.line("yes");
    await alice.shows("alice #lobby>");
    pins = await Deno.readTextFile(`${alice.home}/${pinFile}`);
    assert.ok(pins.split("\n").includes(`127.0.0.1:${tlsPort} ${server.fingerprint}`), pins);
    await alice.line("/quit");
    assert.equal(await alice.exitCode(), 0);
  }
  // The same address, a new key (a :memory: server generates one per start).
  await using server = await startTestServer(["--tls-port", String(tlsPort)]);
  await using alice = await Tmux.start(tlsPort, "alice", {
    args: ["--tls"],
    files: { [pinFile]: pins },
  });
  assert.equal(await alice.exitCode(), 1);
  // The pane's whole output, scrollback included (tmux's "Pane is dead" line scrolls it).
  const output = await alice.run("capture-pane", "-p", "-J", "-S", "-", "-t", "0");
  assert.ok(
    output.includes(`WARNING: the certificate of 127.0.0.1:${tlsPort} has changed.`),
    output,
  );
  assert.ok(output.includes(`presented: ${server.fingerprint}`), output);
  assert.match(output, /remove line 2 \(127\.0\.0\.1:\d+\) from \S+known_hosts/);
  assert.ok(!server.log.seen.some((l) => / nick alice /.test(l)));
});

Deno.test("tmux: an XDG_CONFIG_HOME outside the task's permissions is one line, not Deno's prompt", async () => {
  const tlsPort = freePort();
  await using _server = await startTestServer(["--tls-port", String(tlsPort)]);
  await using alice = await Tmux.start(tlsPort, "alice", {
    args: ["--tls"],
    env: { XDG_CONFIG_HOME: "$HOME/elsewhere" },
    files: { "elsewhere/chat/client.toml": 'nick = "carol"\n' },
  });
  assert.equal(await alice.exitCode(), 1);
  const output = await alice.run("capture-pane", "-p", "-J", "-S", "-", "-t", "0");
  assert.match(output, /chat client: no permission for \S+\/elsewhere\/chat\/known_hosts, where/);
  assert.doesNotMatch(output, /Deno requests|\bat .*\.ts:\d+/, output);
});

Deno.test("tmux: /register and /login without a password ask for it, never echoed", async () => {
  await withServer(async (server) => {
    const secret = "s3cret-horse-staple";
    await using alice = await Tmux.start(server.port, "alice");
    await alice.shows("alice #lobby>");
    await alice.line("/register");
    await alice.shows("new password for alice:");
    await alice.line(secret);
    await alice.shows("the same again:");
    await alice.line(secret);
    await alice.shows("registered alice: the nickname is yours");
    await alice.line("/logout");
    await alice.shows("logged out; you are guest-");
    await alice.line("/login alice");
    await alice.shows("password for alice:");
    await alice.keys([secret], true);
    // Typed but not sent yet: nothing of it on the screen.
    assert.ok(!(await alice.screen()).some((r) => r.includes("s3cret")));
    await alice.keys(["Enter"]);
    await alice.shows("logged in as alice");
    const scrollback = await alice.run("capture-pane", "-p", "-S", "-", "-t", "0");
    assert.ok(!scrollback.includes("s3cret"), scrollback);
    await alice.line("/quit");
    assert.equal(await alice.exitCode(), 0);
  });
});
