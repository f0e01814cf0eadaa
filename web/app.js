// The chat web client: one module, no build step, no dependencies. It speaks
// protocol v1 JSON frames over the WebSocket at /ws (one frame per message;
// see docs/protocol.md) and keeps, per conversation (room or person), the
// messages seen, the unread count and where reading stopped.

const $ = (id) => document.getElementById(id);
const LOBBY = "#lobby";
const PAGE = 50; // history page size, as /history
/** Most lines a conversation keeps; beyond it the oldest go (scrolling up fetches them again). */
const MAX_ENTRIES = 2000;
const GROUP_MS = 5 * 60 * 1000;
const EMOJI = [..."😀😂🙂😉😍🤔😅😎😢😮🙏👍👎👏🙌💪🎉🔥✅❌⚠️❤️👀☕🚀🐛💡📌⏰"];

/** @typedef {{id?: number, kind: string, from?: string, to?: string, text: string, ts: number, ref?: string, pending?: boolean, failed?: boolean}} Entry */

const state = {
  /** @type {WebSocket | undefined} */
  ws: undefined,
  nick: "",
  wanted: "", // the nickname asked for at login
  /**
   * The login form's password while the server checks it: in memory only,
   * never in storage; dropped once answered. Later connections resume.
   * @type {{password: string, register: boolean} | undefined}
   */
  auth: undefined,
  /** The account logged in to, or "" for a guest. */
  account: "",
  token: sessionStorage.getItem("chat.token") ?? "",
  lastId: Number(sessionStorage.getItem("chat.lastId") ?? 0),
  online: false,
  registered: false,
  quitting: false,
  attempt: 0,
  retryTimer: 0,
  /** @type {Map<string, any>} conversations by key (`#room` lower case, `@nick` lower case) */
  convs: new Map(),
  current: "",
  /** frames typed while offline, sent once back */
  outbox: [],
  /** refs sent and not acknowledged yet, by ref → conversation key */
  unacked: new Map(),
  /** acks that arrived before the upload's HTTP answer */
  earlyAcks: new Map(),
  refSeq: 0,
  commands: [],
  knownRooms: [],
  syncing: false,
};

// ---------------------------------------------------------------- utilities

/** @param {string} name */
const keyOf = (name) => name.toLowerCase();
/** @param {string} nick */
const dmKey = (nick) => "@" + nick.toLowerCase();
const newRef = () => `w${Date.now().toString(36)}${(state.refSeq++).toString(36)}`;

/** Stable colour per nickname: a hue from a string hash (FNV-1a). */
function hueOf(nick) {
  let h = 0x811c9dc5;
  for (const c of nick.toLowerCase()) {
    h ^= c.codePointAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % 360;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k === "style") node.style.cssText = v; // CSSOM: allowed by the CSP
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k in node && typeof v !== "string") node[k] = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== undefined && c !== null) node.append(c);
  return node;
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayFmt = new Intl.DateTimeFormat(undefined, {
  weekday: "long",
  year: "numeric",
  month: "long",
  day: "numeric",
});
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "medium" });
const dayOf = (ts) => new Date(ts).toDateString();

function dayLabel(ts) {
  const today = new Date().toDateString();
  const yesterday = new Date(Date.now() - 86_400_000).toDateString();
  const d = dayOf(ts);
  return d === today ? "Today" : d === yesterday ? "Yesterday" : dayFmt.format(ts);
}

const URL_RE = /\bhttps?:\/\/[^\s<>"']+/g;
const IMAGE_RE = /\.(png|jpe?g|gif|webp)$/i;

const SHARED_RE = /^(.+) \(([\d.]+ [KM]?B)\) (https?:\/\/\S+\/files\/[\w-]{22}\/\S+)$/;

/** A file shared from the web client (`NAME (SIZE) URL`): a link, and a preview for images. */
function renderShared(m) {
  let parsed;
  try {
    parsed = new URL(m[3]);
  } catch {
    return undefined;
  }
  const image = IMAGE_RE.test(parsed.pathname);
  const frag = document.createDocumentFragment();
  // Same origin: the link goes to this page's own server, whatever host the uploader used.
  const href = parsed.origin === location.origin ? parsed.pathname : parsed.href;
  frag.append(
    el("a", {
      href,
      class: "file-link",
      target: "_blank",
      rel: "noopener noreferrer",
      download: image ? undefined : m[1],
    }, m[1]),
    el("span", { class: "size" }, ` · ${m[2]}`),
  );
  if (image) {
    const img = el("img", { class: "preview", src: href, alt: m[1], loading: "lazy" });
    img.addEventListener("load", () => keepBottom());
    frag.append(
      el("a", { href, target: "_blank", rel: "noopener noreferrer", tabindex: "-1" }, img),
    );
  }
  return frag;
}

/** Renders message text: kept lines, clickable links, previews of shared images. */
function renderText(text) {
  const shared = SHARED_RE.exec(text);
  if (shared) {
    const node = renderShared(shared);
    if (node) return node;
  }
  const frag = document.createDocumentFragment();
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    let url = m[0];
    const trail = /[.,;:!?)\]]+$/.exec(url);
    if (trail) url = url.slice(0, -trail[0].length);
    frag.append(text.slice(last, m.index));
    last = m.index + url.length;
    let parsed;
    try {
      parsed = new URL(url);
    } catch {
      frag.append(url);
      continue;
    }
    const shared = parsed.origin === location.origin && parsed.pathname.startsWith("/files/");
    const a = el("a", {
      href: parsed.href,
      target: "_blank",
      rel: "noopener noreferrer",
      class: shared ? "file-link" : undefined,
    }, shared ? decodeURIComponent(parsed.pathname.split("/").pop() ?? url) : url);
    if (shared && !IMAGE_RE.test(parsed.pathname)) a.setAttribute("download", "");
    frag.append(a);
    if (shared && IMAGE_RE.test(parsed.pathname)) {
      const img = el("img", {
        class: "preview",
        src: parsed.pathname,
        alt: a.textContent,
        loading: "lazy",
      });
      img.addEventListener("load", () => keepBottom());
      frag.append(
        el("a", { href: parsed.href, target: "_blank", rel: "noopener noreferrer" }, img),
      );
    }
  }
  frag.append(text.slice(last));
  return frag;
}

function mentions(text) {
  if (!state.nick) return false;
  const escaped = state.nick.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(^|[^\\w])@?${escaped}(?![\\w])`, "i").test(text);
}

// ------------------------------------------------------------ conversations

function conv(key, name, kind) {
  let c = state.convs.get(key);
  if (!c) {
    c = {
      key,
      name,
      kind, // "room" | "dm"
      entries: /** @type {Entry[]} */ ([]),
      ids: new Set(),
      unread: 0,
      mentions: 0,
      more: kind === "room",
      loading: false,
      topic: "",
      members: [],
      lastRead: Number(localStorage.getItem(readKey(key)) ?? 0),
      landed: false,
    };
    state.convs.set(key, c);
    renderSidebar();
  }
  return c;
}

function readKey(key) {
  return `chat.read.${state.nick.toLowerCase()}.${key}`;
}

function roomConv(name) {
  return conv(keyOf(name), name, "room");
}

function dmConv(nick) {
  return conv(dmKey(nick), nick, "dm");
}

/** Adds an entry in id order; returns false when it was already there. */
function addEntry(c, entry) {
  if (entry.id !== undefined) {
    if (c.ids.has(entry.id)) return false;
    c.ids.add(entry.id);
  }
  const list = c.entries;
  if (entry.id === undefined || list.length === 0 || (list.at(-1).id ?? Infinity) < entry.id) {
    list.push(entry);
    // Trim unless someone is reading back through this very list.
    if (list.length > MAX_ENTRIES && (c.key !== state.current || autoStick)) {
      for (const old of list.splice(0, list.length - MAX_ENTRIES)) c.ids.delete(old.id);
      if (c.kind === "room") c.more = true;
    }
  } else {
    let i = list.length;
    while (i > 0 && (list[i - 1].id === undefined || list[i - 1].id > entry.id)) i--;
    list.splice(i, 0, entry);
  }
  return true;
}

/** Finds one of my entries still waiting for its id (by ref, or by text). */
function myPending(c, { ref, text }) {
  return c.entries.find((e) =>
    e.id === undefined && e.from === state.nick && (ref ? e.ref === ref : e.text === text)
  );
}

function noteId(id) {
  if (typeof id === "number" && id > state.lastId) {
    state.lastId = id;
    sessionStorage.setItem("chat.lastId", String(id));
  }
}

function notice(c, text, cls = "notice") {
  if (!c) return;
  addEntry(c, { kind: cls, text, ts: Date.now() });
  if (c.key === state.current) renderLog();
}

// ------------------------------------------------------------------ network

function connect() {
  clearTimeout(state.retryTimer);
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}/ws`);
  state.ws = ws;
  ws.onopen = () => {
    const hello = {
      type: "hello",
      version: 1,
      client: "chat-web",
      nick: state.nick || state.wanted,
    };
    if (state.token) {
      hello.resume = state.token;
      if (state.lastId > 0) hello.last_id = state.lastId;
    } else if (state.auth && !state.auth.register) hello.password = state.auth.password;
    ws.send(JSON.stringify(hello));
  };
  ws.onmessage = (event) => {
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    handle(frame);
  };
  ws.onclose = () => {
    if (state.ws !== ws) return;
    state.ws = undefined;
    state.online = false;
    state.registered = false;
    if (state.quitting) {
      banner("You left the chat. Reload the page to join again.");
      return;
    }
    scheduleReconnect();
  };
}

function scheduleReconnect() {
  // 1 s doubling to 30 s, ±20 % jitter (as protocol/reconnect.ts).
  const base = Math.min(30_000, 1000 * 2 ** state.attempt);
  const delay = Math.round(base * (0.8 + Math.random() * 0.4));
  state.attempt++;
  banner(`Offline. Reconnecting in ${Math.ceil(delay / 1000)} s…`, true);
  state.retryTimer = setTimeout(connect, delay);
}

function banner(text, retry = false) {
  const b = $("banner");
  b.hidden = text === "";
  b.textContent = text;
  if (retry) {
    b.append(" ", el("button", { type: "button", onclick: () => connect() }, "Retry now"));
  }
}

function send(frame) {
  if (state.ws && state.registered && state.ws.readyState === WebSocket.OPEN) {
    state.ws.send(JSON.stringify(frame));
    return true;
  }
  return false;
}

/** Sends now, or keeps for when the connection is back. */
function sendOrQueue(frame) {
  if (!send(frame)) state.outbox.push(frame);
}

// ------------------------------------------------------------------- frames

function handle(f) {
  switch (f.type) {
    case "welcome":
      return welcome(f);
    case "message":
    case "action":
      return roomMessage(f);
    case "private":
      return privateMessage(f);
    case "ack":
      return ack(f);
    case "account":
      return accountEvent(f);
    case "joined": {
      const c = f.room ? roomConv(f.room) : undefined;
      if (!c) return;
      if (f.nick === state.nick) {
        select(c.key);
        return;
      }
      if (!c.members.includes(f.nick)) c.members.push(f.nick);
      renderMembers();
      return notice(c, `${f.nick} joined`);
    }
    case "left": {
      const c = f.room ? state.convs.get(keyOf(f.room)) : undefined;
      if (!c) return;
      if (f.nick === state.nick) {
        state.convs.delete(c.key);
        if (state.current === c.key) {
          state.current = "";
          const next = [...state.convs.values()].find((x) => x.kind === "room");
          if (next) select(next.key);
        }
        renderSidebar();
        // Kicked or banned: say so where the user is now.
        if (f.by !== undefined) {
          const here = state.convs.get(state.current);
          if (here) notice(here, removal(f), "error");
          else banner(removal(f));
        }
        return;
      }
      c.members = c.members.filter((n) => n !== f.nick);
      renderMembers();
      return notice(c, `${f.nick} left${f.reason && f.reason !== "part" ? ` (${f.reason})` : ""}`);
    }
    case "renamed": {
      if (f.from === state.nick) {
        state.nick = f.to;
        renderMe();
      }
      for (const c of state.convs.values()) {
        const i = c.members.indexOf(f.from);
        if (i !== -1) {
          c.members[i] = f.to;
          notice(c, `${f.from} is now ${f.to}`);
        }
      }
      return renderMembers();
    }
    case "room": {
      if (f.room === null) return;
      const c = roomConv(f.room);
      c.topic = f.topic;
      select(c.key);
      return;
    }
    case "topic": {
      const c = roomConv(f.room);
      c.topic = f.topic;
      if (f.by) notice(c, `${f.by} set the topic: ${f.topic || "(none)"}`);
      return renderHeader();
    }
    case "who": {
      const c = state.convs.get(keyOf(f.room ?? LOBBY));
      if (c) {
        c.members = f.nicks;
        c.ops = f.ops ?? []; // the room's operators (its creator, its founder, named ops)
      }
      return renderMembers();
    }
    case "rooms": {
      state.knownRooms = f.rooms;
      const list = $("room-names");
      list.replaceChildren(...f.rooms.map((r) => el("option", { value: r.name })));
      const c = state.convs.get(state.current);
      if (state.showRooms && c) {
        state.showRooms = false;
        notice(
          c,
          `rooms: ${
            f.rooms.map((r) => `${r.name} (${r.members})${r.topic ? " " + r.topic : ""}`).join(", ")
          }`,
        );
      }
      return;
    }
    case "history": {
      const c = state.convs.get(keyOf(f.room));
      if (!c) return;
      c.more = f.more;
      c.loading = false;
      renderLog({ keepTop: true });
      if (c.key === state.current && document.visibilityState === "visible") markRead(c);
      return;
    }
    case "help":
      state.commands = f.commands;
      if (state.showHelp) {
        state.showHelp = false;
        notice(
          state.convs.get(state.current),
          f.commands.map((c) => `${c.usage}: ${c.summary}`).join("\n"),
        );
      }
      return;
    case "away":
    case "whois":
    case "search_results":
    case "moderation":
    case "invited":
    case "bans":
      return replyNotice(f);
    case "resume_truncated":
      return truncated(f);
    case "error":
      return error(f);
    case "bye":
      if (/resumed on another connection/.test(f.reason)) state.quitting = true;
      banner(f.reason === "server is shutting down" ? "The server is restarting…" : f.reason);
      return;
    case "ping":
      return void send({ type: "pong", ...(f.token !== undefined ? { token: f.token } : {}) });
    case "pong":
      if (f.token === "sync") return synced();
      return;
  }
}

// Wording as the terminal's (protocol/plain_text.ts), for the same commands.
const MODERATION_VERBS = {
  kick: "was kicked from",
  ban: "was banned from",
  unban: "is no longer banned from",
  mute: "was muted in",
  unmute: "may talk again in",
  op: "is now an operator of",
  deop: "is no longer an operator of",
  invite: "was invited to",
  voice: "was given a voice in",
  devoice: "no longer has a voice in",
};

/** A kick or ban as the one removed reads it: `You were kicked from #dev by alice: spam`. */
function removal(f) {
  const until = f.until === undefined ? "" : ` until ${timeFmt.format(f.until)}`;
  return `You were ${f.reason === "ban" ? "banned" : "kicked"} from ${f.room} by ${f.by}${until}` +
    (f.message ? `: ${f.message}` : "");
}

/** `42 s`, `5 min`, `3 h 12 min`, `2 d 4 h`. */
function duration(ms) {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** Answers to /away, /whois, /search, moderation and invitations, as notices. */
function replyNotice(f) {
  const current = state.convs.get(state.current);
  switch (f.type) {
    case "away": {
      const me = f.nick === state.nick;
      const text = f.text === undefined
        ? (me ? "You are back." : `${f.nick} is back.`)
        : (me ? `You are away: ${f.text}` : `${f.nick} is away: ${f.text}`);
      return notice(state.convs.get(dmKey(f.nick)) ?? current, text);
    }
    case "whois":
      return notice(
        current,
        [
          `${f.nick}: in ${f.rooms.length ? f.rooms.join(", ") : "no room"}`,
          `connected ${fullFmt.format(f.connected)}, idle ${duration(f.idle)}`,
          ...(f.away !== undefined ? [`away: ${f.away}`] : []),
        ].join("\n"),
      );
    case "search_results": {
      const n = f.results.length;
      const head = `${n || "No"} ${n === 1 ? "message" : "messages"} found for “${f.text}”` +
        (f.room ? ` in ${f.room}` : "") + (f.more ? "; older matches not shown" : "");
      const lines = f.results.map((r) =>
        `${fullFmt.format(r.ts)} ${
          r.type === "private" ? `[private] ${r.from} → ${r.to}` : `${r.room} ${r.from}`
        }: ${r.text}`
      );
      return notice(current, [head, ...lines].join("\n"));
    }
    case "moderation": {
      const where = f.room ?? "the server";
      const until = f.until === undefined ? "" : ` until ${timeFmt.format(f.until)}`;
      const why = f.reason ? `: ${f.reason}` : "";
      const text = {
        topic_lock: `${f.by} locked the topic of ${where}`,
        topic_unlock: `${f.by} unlocked the topic of ${where}`,
        invite_only: `${f.by} made ${where} invite-only`,
        invite_open: `${f.by} opened ${where} to everyone`,
        secret: `${f.by} made ${where} secret`,
        public: `${f.by} made ${where} public`,
        moderated: `${f.by} made ${where} moderated: only operators and voiced users talk`,
        unmoderated: `${f.by} made ${where} unmoderated`,
      }[f.action] ??
        `${f.target} ${MODERATION_VERBS[f.action] ?? f.action} ${where} by ${f.by}${until}${why}`;
      return notice((f.room && state.convs.get(keyOf(f.room))) || current, text);
    }
    case "invited":
      return notice(current, `${f.by} invites you to ${f.room}: type /join ${f.room}`);
    case "bans": {
      const where = f.room === undefined ? "server-wide bans" : `bans in ${f.room}`;
      const total = f.total ?? f.bans.length;
      const lines = f.bans.map((b) =>
        `${b.target}${b.kind === "account" ? " (account)" : ""} by ${b.by}` +
        (b.until === undefined ? "" : ` until ${fullFmt.format(b.until)}`) +
        (b.reason ? `: ${b.reason}` : "")
      );
      const head = f.offset ? [] : [total === 0 ? `No ${where}.` : `${total} ${where}:`];
      return notice(current, [...head, ...lines].join("\n"));
    }
  }
}

/**
 * A resume replayed its limit and skipped messages: rather than show a gap,
 * each room forgets what it had before the skip and pages history again
 * from the live messages back (as scrolling up does).
 */
function truncated(f) {
  for (const c of state.convs.values()) {
    if (c.kind !== "room") continue;
    c.entries = c.entries.filter((e) => e.id === undefined || e.id >= f.live_from);
    c.ids = new Set(c.entries.map((e) => e.id).filter((id) => id !== undefined));
    c.more = true;
    c.loading = false;
  }
  notice(
    state.convs.get(state.current),
    "Too much was said while you were away to replay it all: scroll up to read back.",
  );
  renderLog();
}

function welcome(f) {
  const first = !state.nick;
  state.nick = f.nick;
  state.registered = true;
  state.online = true;
  state.attempt = 0;
  if (f.resume) {
    // The server may rotate the token: always keep the newest.
    state.token = f.resume;
    sessionStorage.setItem("chat.token", f.resume);
  }
  sessionStorage.setItem("chat.nick", f.nick);
  localStorage.setItem("chat.nick", f.nick);
  if (f.account !== undefined) state.account = f.account ?? "";
  $("server-name").textContent = f.server;
  renderMe();
  banner("");
  if (first) {
    if (f.room) roomConv(f.room);
    select(keyOf(f.room ?? LOBBY));
  }
  if (state.auth?.register) {
    // In as a guest: now register the nickname; the form stays until the answer.
    send({ type: "register", password: state.auth.password });
  } else showApp();
  // A fresh session (the server forgot us): rejoin the rooms we were in.
  if (!f.resumed && !first) {
    for (const c of state.convs.values()) {
      if (c.kind === "room" && c.key !== keyOf(LOBBY)) send({ type: "join", room: c.name });
    }
    if (state.convs.has(state.current) && state.current !== keyOf(LOBBY)) {
      const c = state.convs.get(state.current);
      if (c.kind === "room") send({ type: "join", room: c.name });
    }
  }
  send({ type: "help" });
  send({ type: "rooms" });
  const c = state.convs.get(state.current);
  if (c?.kind === "room") send({ type: "who", room: c.name });
  // Whatever the server replays comes before the answer to this ping: then
  // we know which of our unacknowledged lines it has, and send the rest.
  state.syncing = true;
  send({ type: "ping", token: "sync" });
}

function synced() {
  state.syncing = false;
  for (const [ref, frame] of state.unacked) {
    const c = state.convs.get(frame.convKey);
    const e = c?.entries.find((x) => x.ref === ref);
    if (!e || e.id !== undefined) {
      state.unacked.delete(ref);
      continue;
    }
    const { convKey: _, ...wire } = frame;
    send(wire);
  }
  const queued = state.outbox;
  state.outbox = [];
  for (const frame of queued) {
    const { convKey: _, ...wire } = frame;
    if (send(wire) && wire.ref) state.unacked.set(wire.ref, frame);
  }
}

function roomMessage(f) {
  if (!f.room) return;
  const c = roomConv(f.room);
  if (!f.history) noteId(f.id);
  if (f.from === state.nick && !f.history && confirmMine(c, f)) return;
  const entry = { id: f.id, kind: f.type, from: f.from, text: f.text, ts: f.ts };
  if (f.notice) entry.notice = true;
  if (!addEntry(c, entry)) return;
  if (f.history) {
    if (!c.loading && c.key === state.current) renderLog();
    return;
  }
  arrived(c, entry, mentions(f.text) && f.from !== state.nick);
}

function privateMessage(f) {
  const other = f.from === state.nick ? f.to : f.from;
  const c = dmConv(other);
  noteId(f.id);
  if (f.from === state.nick && confirmMine(c, f)) return;
  const entry = { id: f.id, kind: "private", from: f.from, to: f.to, text: f.text, ts: f.ts };
  if (f.notice) entry.notice = true;
  if (!addEntry(c, entry)) return;
  arrived(c, entry, f.from !== state.nick);
}

/**
 * My own line coming back as a message (a resume replays a line whose ack
 * never arrived): the pending entry with that text takes its id, instead of
 * a second copy appearing. One rule for room and private lines.
 *
 * @returns whether a pending entry was confirmed
 */
function confirmMine(c, f) {
  const mine = myPending(c, { text: f.text });
  if (!mine) return false;
  mine.id = f.id;
  mine.ts = f.ts;
  mine.pending = false;
  c.ids.add(f.id);
  if (c.key === state.current) renderLog();
  return true;
}

/** A live message arrived in a conversation: counts, badges, notification. */
function arrived(c, entry, important) {
  const reading = c.key === state.current && document.visibilityState === "visible";
  if (!reading && entry.from !== state.nick) {
    c.unread++;
    if (important) c.mentions++;
  }
  if (c.key === state.current) renderLog();
  // Counts, badges and the read mark: once per frame, however many lines came.
  badgesSoon();
  if (important && !reading) notify(c, entry);
}

/** Calls `fn` once, at the next frame (or soon, in a hidden tab), however often asked. */
function coalesced(fn) {
  let queued = false;
  const run = () => {
    queued = false;
    fn();
  };
  return () => {
    if (queued) return;
    queued = true;
    if (document.visibilityState === "visible") requestAnimationFrame(run);
    else setTimeout(run, 250);
  };
}

const badgesSoon = coalesced(() => {
  const c = state.convs.get(state.current);
  if (c && document.visibilityState === "visible") markRead(c); // also draws the badges
  else {
    renderSidebar();
    updateTitle();
  }
});

function ack(f) {
  noteId(f.id);
  if (!f.ref) return;
  const pending = state.unacked.get(f.ref);
  state.unacked.delete(f.ref);
  const c = pending ? state.convs.get(pending.convKey) : undefined;
  const e = c?.entries.find((x) => x.ref === f.ref);
  if (!e) {
    state.earlyAcks.set(f.ref, f);
    return;
  }
  if (e.id !== undefined) return;
  e.id = f.id;
  e.ts = f.ts;
  e.pending = false;
  c.ids.add(f.id);
  if (c.key === state.current) renderLog();
}

function error(f) {
  if (!state.registered) {
    if (f.code === "resume_failed") {
      // The server forgot the session (e.g. restarted without a database):
      // the hello goes on as a fresh one.
      state.token = "";
      sessionStorage.removeItem("chat.token");
      return;
    }
    return loginError(f);
  }
  if (!$("login").hidden) return loginError(f); // the registration the form asked for

  let c = state.convs.get(state.current);
  // A refused line carries its ref: mark that entry as not sent, and say why there.
  const refused = f.ref ? state.unacked.get(f.ref) : undefined;
  if (refused) {
    state.unacked.delete(f.ref);
    c = state.convs.get(refused.convKey) ?? c;
    const e = c?.entries.find((x) => x.ref === f.ref);
    if (e) {
      e.pending = false;
      e.failed = true;
    }
  }
  notice(c, f.message, "error");
}

// ------------------------------------------------------------------- login

/** Passwords travel only over HTTPS or to this machine (the server's rule, docs/protocol.md). */
const PASSWORD_SAFE = location.protocol === "https:" ||
  ["localhost", "127.0.0.1", "[::1]"].includes(location.hostname);

const INSECURE = "Passwords are sent only over HTTPS: this page is plain http:// from another " +
  "machine. Open the chat's https:// address to log in or register, or leave the password " +
  "empty to join as a guest.";

/** The login form's answer to the server's errors, in words for this form. */
function loginMessage(f) {
  switch (f.code) {
    case "nick_registered":
      return `“${state.wanted}” is a registered nickname: enter its password to log in, ` +
        "or choose another nickname.";
    case "login_failed":
      return "Wrong nickname or password.";
    case "insecure_transport":
      return INSECURE;
    case "password_invalid":
      return "A password must be 8 characters to 1024 bytes long.";
    case "account_required":
      return "This server admits accounts only: enter your nickname's password to log in " +
        "(an operator creates accounts).";
    case "registration_closed":
      return "This server does not take new accounts: ask an operator for one, " +
        "or clear the box to join as a guest.";
    default:
      return f.message;
  }
}

/**
 * Shows the form again with what went wrong (a text, or an error frame) and
 * puts the caret where the fix goes.
 */
function loginError(what, field = "") {
  state.auth = undefined;
  $("login").hidden = false;
  $("app").hidden = true;
  $("login-error").textContent = typeof what === "string" ? what : loginMessage(what);
  $("login-submit").disabled = false;
  // In as a guest already (a registration refused): the nickname stays.
  $("login-nick").readOnly = state.registered;
  const password = ["nick_registered", "login_failed", "password_invalid", "account_required"]
    .includes(what.code);
  $(field || (password ? "login-password" : "login-nick")).focus();
}

function submitLogin() {
  const nick = $("login-nick").value.trim();
  const password = $("login-password").value;
  const register = $("login-register").checked;
  if (!nick) return loginError("Choose a nickname.");
  if (register && [...password].length < 8) {
    return loginError("A new account needs a password of at least 8 characters.", "login-password");
  }
  if (password && !PASSWORD_SAFE) return loginError(INSECURE, "login-password");
  $("login-error").textContent = "";
  $("login-submit").disabled = true;
  state.wanted = nick;
  state.auth = password ? { password, register } : undefined;
  const ws = state.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN) return connect();
  if (state.registered) {
    // A guest whose registration was refused: try again, or go on as a guest.
    if (state.auth?.register) send({ type: "register", password });
    else if (state.auth) send({ type: "login", nick, password });
    else showApp();
  } else if (state.auth && !register) {
    ws.send(JSON.stringify({ type: "login", nick, password }));
  } else ws.send(JSON.stringify({ type: "nick", nick }));
}

/** Leaves the login form for the chat; the password is forgotten. */
function showApp() {
  state.auth = undefined;
  $("login-password").value = "";
  $("login-register").checked = false;
  $("login-submit").textContent = "Join";
  $("login-error").textContent = "";
  $("login-submit").disabled = false;
  if (!$("login").hidden) {
    $("login").hidden = true;
    $("app").hidden = false;
    $("input").focus();
  }
}

function renderMe() {
  $("me-nick").textContent = state.nick;
  $("me-account").textContent = state.account ? " (account)" : " (guest)";
}

/** `account` frames: a registration, login or logout done (the form's, or typed). */
function accountEvent(f) {
  state.account = f.account ?? "";
  if (f.nick) state.nick = f.nick;
  renderMe();
  const said = {
    registered: `“${f.account}” is now your account: log in with its password next time.`,
    login: `Logged in as ${f.account}.`,
    logout: `Logged out: you are ${f.nick}, a guest.`,
    password: "Password changed.",
  }[f.event];
  if (f.event === "registered" || f.event === "login") showApp();
  if (said) notice(state.convs.get(state.current), said);
}

// ----------------------------------------------------------------- sending

function submit() {
  const input = $("input");
  const text = input.value.replace(/\s+$/, "");
  if (text.trim() === "") return;
  input.value = "";
  autoGrow();
  closeComplete();
  const c = state.convs.get(state.current);
  if (!c) return;
  if (/^\/(quit|exit)\b/i.test(text)) state.quitting = true;
  if (text.startsWith("/") && !text.startsWith("//")) {
    const m = /^\/(\S+)\s*([\s\S]*)$/.exec(text);
    const name = m[1].toLowerCase();
    const args = m[2];
    if (name === "me" && args.trim()) {
      return post(
        c,
        c.kind === "room"
          ? { type: "me", text: args, room: c.name }
          : { type: "msg", to: c.name, text: `/me ${args}` },
        "action",
        args,
      );
    }
    if ((name === "msg" || name === "m") && /^\S+\s+\S/.test(args)) {
      const [, to, body] = /^(\S+)\s+([\s\S]+)$/.exec(args);
      const dm = dmConv(to);
      select(dm.key);
      return post(dm, { type: "msg", to, text: body }, "private", body);
    }
    if (name === "help") state.showHelp = true;
    if (name === "rooms" || name === "list") state.showRooms = true;
    if (name === "join" || name === "j") {
      const room = args.trim();
      if (room) {
        return sendOrQueue({ type: "join", room: room.startsWith("#") ? room : `#${room}` });
      }
    }
    return sendOrQueue({ type: "input", text, ...(c.kind === "room" ? { room: c.name } : {}) });
  }
  const body = text.startsWith("//") ? text.slice(1) : text;
  if (c.kind === "room") post(c, { type: "say", text: body, room: c.name }, "message", body);
  else post(c, { type: "msg", to: c.name, text: body }, "private", body);
}

/** Shows my line at once (pending until its ack) and sends it (or queues it). */
function post(c, frame, kind, text) {
  const ref = newRef();
  frame.ref = ref;
  addEntry(c, { kind, from: state.nick, text, ts: Date.now(), ref, pending: true });
  const tagged = { ...frame, convKey: c.key };
  if (!state.syncing && send(frame)) state.unacked.set(ref, tagged);
  else state.outbox.push(tagged); // synced() sends it once the connection is back
  renderLog();
  scrollToBottom();
}

// ------------------------------------------------------------------ uploads

async function upload(file) {
  const c = state.convs.get(state.current);
  if (!c || c.kind !== "room") {
    notice(c, "files can be shared in rooms only", "error");
    return;
  }
  if (!state.registered) {
    notice(c, "offline: share the file again once connected", "error");
    return;
  }
  const ref = newRef();
  const entry = {
    kind: "message",
    from: state.nick,
    text: `uploading ${file.name}…`,
    ts: Date.now(),
    ref,
    pending: true,
  };
  addEntry(c, entry);
  state.unacked.set(ref, { convKey: c.key, upload: true });
  renderLog();
  scrollToBottom();
  const query = new URLSearchParams({ room: c.name, name: file.name || "pasted", ref });
  try {
    const response = await fetch(`/upload?${query}`, {
      method: "POST",
      headers: { authorization: `Bearer ${state.token}` },
      body: file,
    });
    if (!response.ok) throw new Error((await response.text()).trim());
    const { text } = await response.json();
    entry.text = text;
    const early = state.earlyAcks.get(ref);
    if (early) {
      state.earlyAcks.delete(ref);
      state.unacked.set(ref, { convKey: c.key });
      ack(early);
    }
  } catch (err) {
    entry.pending = false;
    entry.failed = true;
    entry.text = `${file.name}: ${err instanceof Error ? err.message : err}`;
    state.unacked.delete(ref);
  }
  if (c.key === state.current) renderLog();
}

// ------------------------------------------------------------------- render

function select(key) {
  const c = state.convs.get(key);
  if (!c) return;
  const changed = state.current !== key;
  // What was on screen until now has been read: the next visit lands after it.
  const left = state.convs.get(state.current);
  if (changed && left && document.visibilityState === "visible") markRead(left);
  state.current = key;
  // On a phone the sidebar is a panel: picking a conversation (even the open one) closes it.
  $("app").classList.remove("show-sidebar");
  $("menu-button").setAttribute("aria-expanded", "false");
  if (changed && c.kind === "room") send({ type: "who", room: c.name });
  renderSidebar();
  renderHeader();
  renderMembers();
  renderLog({ land: changed || !c.landed });
  if (document.visibilityState === "visible") markRead(c);
  updateTitle();
}

function markRead(c) {
  c.unread = 0;
  c.mentions = 0;
  const top = c.entries.reduce((m, e) => (e.id ?? 0) > m ? e.id : m, 0);
  if (top > c.lastRead) {
    c.lastRead = top;
    localStorage.setItem(readKey(c.key), String(top));
  }
  renderSidebar();
  updateTitle();
}

function renderSidebar() {
  const rooms = [...state.convs.values()].filter((c) => c.kind === "room")
    .sort((a, b) => a.name.localeCompare(b.name));
  const dms = [...state.convs.values()].filter((c) => c.kind === "dm")
    .sort((a, b) => a.name.localeCompare(b.name));
  const refocus = [holdFocus($("room-list")), holdFocus($("dm-list"))];
  $("room-list").replaceChildren(...rooms.map(convButton));
  $("dm-list").replaceChildren(...dms.map(convButton));
  for (const f of refocus) f();
}

/**
 * Notes which entry of a list has the keyboard focus (its `data-key`), before
 * the list is redrawn; the function returned puts the focus back on the new
 * entry with that key. A list redraws whenever a line arrives, and a person
 * tabbing through it must not be thrown back to the page's start.
 */
function holdFocus(list) {
  const active = document.activeElement;
  const key = active instanceof HTMLElement && list.contains(active)
    ? active.dataset.key
    : undefined;
  return () => {
    if (key !== undefined) list.querySelector(`[data-key="${CSS.escape(key)}"]`)?.focus();
  };
}

function convButton(c) {
  const badgeId = `badge-${c.key.replace(/[^a-z0-9_-]/g, "_")}`;
  const count = c.mentions || c.unread;
  const badge = count > 0
    ? el("span", {
      class: c.mentions ? "badge mention" : "badge",
      id: badgeId,
      title: c.mentions ? `${c.mentions} mentions` : `${c.unread} unread`,
    }, String(count))
    : undefined;
  if (badge) badge.setAttribute("aria-hidden", "true");
  const button = el(
    "button",
    {
      type: "button",
      dataset: { key: c.key },
      "aria-label": c.name,
      "aria-current": c.key === state.current ? "page" : undefined,
      "aria-describedby": badge ? badgeId : undefined,
      class: c.unread ? "unread" : undefined,
      onclick: () => {
        select(c.key);
        $("input").focus();
      },
    },
    el("span", { class: "name" }, c.kind === "dm" ? `@ ${c.name}` : c.name),
    badge,
  );
  return el("li", {}, button);
}

function renderHeader() {
  const c = state.convs.get(state.current);
  $("conv-title").textContent = c ? c.name : "";
  $("conv-topic").textContent = c?.kind === "room"
    ? (c.topic || "No topic: type /topic to set one")
    : c
    ? "Private conversation"
    : "";
  $("leave-button").hidden = !c || c.kind !== "room";
  $("members-button").hidden = !c || c.kind !== "room";
  $("app").classList.toggle("no-members", !c || c.kind !== "room" || state.hideMembers === true);
  $("input").placeholder = c ? `Message ${c.name}` : "Message";
}

function renderMembers() {
  const c = state.convs.get(state.current);
  const members = c?.kind === "room" ? [...c.members].sort((a, b) => a.localeCompare(b)) : [];
  $("member-count").textContent = members.length ? `(${members.length})` : "";
  const refocus = holdFocus($("member-list"));
  $("member-list").replaceChildren(...members.map((nick) =>
    el(
      "li",
      {},
      el(
        "button",
        {
          type: "button",
          dataset: { key: nick },
          title: nick === state.nick ? "you" : `Message ${nick}`,
          onclick: () => {
            if (nick === state.nick) return;
            select(dmConv(nick).key);
            $("input").focus();
          },
        },
        el("span", { class: "dot", "aria-hidden": "true" }, "●"),
        c.ops?.includes(nick)
          ? el("span", { class: "op", title: "room operator" }, "@")
          : undefined,
        el("span", {
          class: "nick-color",
          style: `color: hsl(${hueOf(nick)} 65% var(--nick-l))`,
        }, nick),
        nick === state.nick ? el("span", { class: "you" }, " (you)") : undefined,
      ),
    )
  ));
  refocus();
}

function entryNode(e, prev, firstUnread) {
  const first = !prev || prev.from !== e.from || prev.kind !== e.kind ||
    !prev.notice !== !e.notice || e.kind !== "message" &&
      e.kind !== "private" ||
    e.ts - prev.ts > GROUP_MS || dayOf(prev.ts) !== dayOf(e.ts) ||
    firstUnread;
  const cls = [
    "msg",
    e.kind,
    e.notice && "notice", // an IRC NOTICE: the nickname between dashes, the text muted
    first && "first",
    e.pending && "pending",
    e.failed && "failed",
  ];
  if (
    e.from && e.from !== state.nick && (e.kind === "message" || e.kind === "action") &&
    mentions(e.text)
  ) {
    cls.push("mentioned");
  }
  const isAction = e.kind === "action" || (e.kind === "private" && e.text.startsWith("/me "));
  const text = e.kind === "private" && isAction ? e.text.slice(4) : e.text;
  return el(
    "div",
    {
      class: cls.filter(Boolean).join(" ") + (isAction ? " action" : ""),
      dataset: e.id !== undefined ? { id: String(e.id) } : {},
      title: e.pending ? "sending…" : e.failed ? "not sent" : undefined,
    },
    el(
      "time",
      { datetime: new Date(e.ts).toISOString(), title: fullFmt.format(e.ts) },
      timeFmt.format(e.ts),
    ),
    el(
      "div",
      { class: "line" },
      e.from
        ? el(
          "span",
          { class: "nick", style: `--hue: ${hueOf(e.from)}` },
          isAction ? `* ${e.from}` : e.notice ? `-${e.from}-` : e.from,
        )
        : undefined,
      el("span", { class: "body" }, renderText(text)),
    ),
  );
}

let autoStick = true;

const drawLogSoon = coalesced(() => drawLog({}));

/**
 * Redraws the message list: at once to land or to keep the place after a
 * page of history, otherwise once per frame however many lines arrived (a
 * resume may replay thousands).
 */
function renderLog(options = {}) {
  if (options.land || options.keepTop) drawLog(options);
  else drawLogSoon();
}

function drawLog(options) {
  const log = $("log");
  const c = state.convs.get(state.current);
  if (!c) {
    log.replaceChildren();
    return;
  }
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  const oldHeight = log.scrollHeight;
  const oldTop = log.scrollTop;
  const nodes = [];
  if (c.kind === "room") {
    nodes.push(el(
      "div",
      { class: "history-status" },
      c.loading
        ? "Loading earlier messages…"
        : c.more
        ? "Scroll up for earlier messages"
        : `This is the beginning of ${c.name}`,
    ));
  }
  let prev;
  let marked = false;
  let markNode;
  for (const e of c.entries) {
    if (!prev || dayOf(prev.ts) !== dayOf(e.ts)) {
      nodes.push(el("div", { class: "day", role: "separator" }, dayLabel(e.ts)));
    }
    const unreadHere = !marked && c.lastRead > 0 && e.id !== undefined && e.id > c.lastRead &&
      e.from !== state.nick && options.land;
    if (unreadHere) {
      marked = true;
      markNode = el("div", { class: "unread-mark", role: "separator" }, "New messages");
      nodes.push(markNode);
    }
    nodes.push(entryNode(e, prev, unreadHere));
    prev = e;
  }
  log.replaceChildren(...nodes);
  if (options.land) {
    c.landed = true;
    if (markNode) markNode.scrollIntoView({ block: "start" });
    else log.scrollTop = log.scrollHeight;
    autoStick = !markNode;
  } else if (options.keepTop) {
    log.scrollTop = oldTop + (log.scrollHeight - oldHeight);
  } else if (atBottom || autoStick) {
    log.scrollTop = log.scrollHeight;
  }
  maybeLoadMore();
}

function keepBottom() {
  const log = $("log");
  if (autoStick) log.scrollTop = log.scrollHeight;
}

function scrollToBottom() {
  autoStick = true;
  keepBottom();
}

/** Endless scroll-back: near the top, ask for the page before the oldest id shown. */
function maybeLoadMore() {
  const c = state.convs.get(state.current);
  const log = $("log");
  if (!c || c.kind !== "room" || !c.more || c.loading || !state.registered) return;
  if (log.scrollTop > 150 && log.scrollHeight > log.clientHeight) return;
  const oldest = c.entries.find((e) => e.id !== undefined);
  c.loading = true;
  const status = log.querySelector(".history-status");
  if (status) status.textContent = "Loading earlier messages…";
  send({ type: "history", room: c.name, limit: PAGE, ...(oldest ? { before: oldest.id } : {}) });
}

function updateTitle() {
  let badge = 0;
  for (const c of state.convs.values()) badge += c.kind === "dm" ? c.unread : c.mentions;
  const c = state.convs.get(state.current);
  document.title = `${badge > 0 ? `(${badge}) ` : ""}${c ? `${c.name} · ` : ""}chat`;
}

// ------------------------------------------------------------ notifications

function notify(c, entry) {
  if (!("Notification" in globalThis) || Notification.permission !== "granted") return;
  const n = new Notification(
    c.kind === "dm" ? `${entry.from} (private)` : `${entry.from} in ${c.name}`,
    {
      body: entry.text.slice(0, 200),
      tag: c.key,
      icon: "/icon.svg",
    },
  );
  n.onclick = () => {
    globalThis.focus();
    select(c.key);
    n.close();
  };
}

function setupNotifications() {
  const button = $("notify-button");
  if (!("Notification" in globalThis)) return;
  const asked = localStorage.getItem("chat.notifyAsked") === "1";
  button.hidden = Notification.permission !== "default" || asked;
  button.addEventListener("click", async () => {
    localStorage.setItem("chat.notifyAsked", "1");
    button.hidden = true;
    try {
      await Notification.requestPermission();
    } catch { /* refused */ }
  });
}

// -------------------------------------------------------------- autocomplete

let completion = { items: [], index: 0, start: 0, end: 0 };

function updateComplete() {
  const input = $("input");
  const caret = input.selectionStart;
  const before = input.value.slice(0, caret);
  let items = [];
  let start = 0;
  const at = /(^|\s)@([\w\-\[\]\\^{}|`]*)$/.exec(before);
  const slash = /^\/(\S*)$/.exec(before);
  if (at) {
    const c = state.convs.get(state.current);
    const pool = new Set([
      ...(c?.members ?? []),
      ...[...state.convs.values()].filter((x) => x.kind === "dm").map((x) => x.name),
    ]);
    pool.delete(state.nick);
    const prefix = at[2].toLowerCase();
    items = [...pool].filter((n) => n.toLowerCase().startsWith(prefix)).sort().slice(0, 8)
      .map((n) => ({ label: `@${n}`, insert: `@${n} ` }));
    start = caret - at[2].length - 1;
  } else if (slash) {
    const prefix = slash[1].toLowerCase();
    items = state.commands.filter((c) => c.usage.slice(1).toLowerCase().startsWith(prefix)).slice(
      0,
      10,
    )
      .map((c) => ({ label: `${c.usage}  ${c.summary}`, insert: c.usage.split(" ")[0] + " " }));
    start = 0;
  }
  completion = { items, index: 0, start, end: caret };
  renderComplete();
}

function renderComplete() {
  const list = $("complete");
  list.hidden = completion.items.length === 0;
  $("input").setAttribute("aria-expanded", String(!list.hidden));
  list.replaceChildren(...completion.items.map((item, i) =>
    el("li", {
      role: "option",
      id: `complete-${i}`,
      "aria-selected": String(i === completion.index),
      onmousedown: (event) => {
        event.preventDefault();
        completion.index = i;
        pickComplete();
      },
    }, item.label)
  ));
  if (!list.hidden) {
    $("input").setAttribute("aria-activedescendant", `complete-${completion.index}`);
  } else $("input").removeAttribute("aria-activedescendant");
}

function pickComplete() {
  const item = completion.items[completion.index];
  if (!item) return;
  const input = $("input");
  input.value = input.value.slice(0, completion.start) + item.insert +
    input.value.slice(completion.end);
  const caret = completion.start + item.insert.length;
  input.setSelectionRange(caret, caret);
  closeComplete();
  input.focus();
}

function closeComplete() {
  completion = { items: [], index: 0, start: 0, end: 0 };
  renderComplete();
}

function autoGrow() {
  const input = $("input");
  input.style.height = "auto";
  input.style.height = `${Math.min(input.scrollHeight + 2, 190)}px`;
}

// --------------------------------------------------------------------- setup

function setup() {
  $("login-nick").value = sessionStorage.getItem("chat.nick") ??
    localStorage.getItem("chat.nick") ?? "";
  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    submitLogin();
  });
  // The button says what it will do: join as a guest, log in, or register.
  const label = () =>
    $("login-submit").textContent = $("login-register").checked
      ? "Register and join"
      : $("login-password").value
      ? "Log in"
      : "Join";
  $("login-password").addEventListener("input", label);
  $("login-register").addEventListener("change", label);

  const input = $("input");
  input.addEventListener("keydown", (event) => {
    const open = completion.items.length > 0;
    if (open && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      event.preventDefault();
      const n = completion.items.length;
      completion.index = (completion.index + (event.key === "ArrowDown" ? 1 : n - 1)) % n;
      renderComplete();
      return;
    }
    if (open && (event.key === "Tab" || (event.key === "Enter" && !event.shiftKey))) {
      event.preventDefault();
      // Enter on a word already typed out in full (`/away`, `@bob`) sends the line.
      const item = completion.items[completion.index];
      const typed = input.value.slice(completion.start, completion.end).toLowerCase();
      if (event.key === "Enter" && item?.insert.trim().toLowerCase() === typed) {
        closeComplete();
        submit();
      } else pickComplete();
      return;
    }
    if (open && event.key === "Escape") {
      event.preventDefault();
      closeComplete();
      return;
    }
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  input.addEventListener("input", () => {
    autoGrow();
    updateComplete();
  });
  input.addEventListener("paste", (event) => {
    const files = [...(event.clipboardData?.files ?? [])];
    if (files.length > 0) {
      event.preventDefault();
      for (const f of files) upload(f);
    }
  });
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
    input.focus();
  });

  $("join-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const field = $("join-room");
    let room = field.value.trim();
    if (!room) return;
    if (!room.startsWith("#")) room = `#${room}`;
    field.value = "";
    const existing = state.convs.get(keyOf(room));
    if (existing) select(existing.key);
    sendOrQueue({ type: "join", room });
    input.focus();
  });
  $("join-room").addEventListener("focus", () => send({ type: "rooms" }));

  $("leave-button").addEventListener("click", () => {
    const c = state.convs.get(state.current);
    if (c?.kind === "room") sendOrQueue({ type: "part", room: c.name });
  });
  $("members-button").addEventListener("click", () => {
    const app = $("app");
    if (matchMedia("(max-width: 760px)").matches) {
      const open = app.classList.toggle("show-members");
      $("members-button").setAttribute("aria-expanded", String(open));
    } else {
      state.hideMembers = !state.hideMembers;
      $("members-button").setAttribute("aria-expanded", String(!state.hideMembers));
      renderHeader();
    }
  });
  $("menu-button").addEventListener("click", () => {
    const open = $("app").classList.toggle("show-sidebar");
    $("menu-button").setAttribute("aria-expanded", String(open));
    if (open) $("sidebar").querySelector("button")?.focus();
  });

  $("attach-button").addEventListener("click", () => $("file-input").click());
  $("file-input").addEventListener("change", (event) => {
    for (const f of event.target.files) upload(f);
    event.target.value = "";
  });
  const emojiPanel = $("emoji-panel");
  emojiPanel.append(...EMOJI.map((e) =>
    el("button", {
      type: "button",
      "aria-label": e,
      onclick: () => {
        const pos = input.selectionStart;
        input.setRangeText(e, pos, input.selectionEnd, "end");
        emojiPanel.hidden = true;
        $("emoji-button").setAttribute("aria-expanded", "false");
        input.focus();
      },
    }, e)
  ));
  $("emoji-button").addEventListener("click", () => {
    emojiPanel.hidden = !emojiPanel.hidden;
    $("emoji-button").setAttribute("aria-expanded", String(!emojiPanel.hidden));
    if (!emojiPanel.hidden) emojiPanel.querySelector("button").focus();
  });

  const main = $("main");
  let dragDepth = 0;
  main.addEventListener("dragenter", (event) => {
    if (!event.dataTransfer?.types.includes("Files")) return;
    dragDepth++;
    const c = state.convs.get(state.current);
    $("drop-hint").textContent = `Drop to share in ${c?.name ?? "the room"}`;
    $("drop-hint").hidden = false;
  });
  main.addEventListener("dragleave", () => {
    if (--dragDepth <= 0) {
      dragDepth = 0;
      $("drop-hint").hidden = true;
    }
  });
  main.addEventListener("dragover", (event) => event.preventDefault());
  main.addEventListener("drop", (event) => {
    event.preventDefault();
    dragDepth = 0;
    $("drop-hint").hidden = true;
    for (const f of event.dataTransfer?.files ?? []) upload(f);
  });

  $("log").addEventListener("scroll", () => {
    const log = $("log");
    autoStick = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    maybeLoadMore();
  });

  document.addEventListener("keydown", (event) => {
    // Alt+↑ / Alt+↓: previous / next conversation.
    if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
      const keys = [...document.querySelectorAll(".conv-list button")].map((b) =>
        b.getAttribute("aria-label")
      );
      const i = keys.findIndex((k) =>
        k && state.convs.get(keyOf(k.startsWith("#") ? k : "@" + k))?.key === state.current
      );
      const next = keys[(i + (event.key === "ArrowDown" ? 1 : keys.length - 1)) % keys.length];
      if (next) select(next.startsWith("#") ? keyOf(next) : dmKey(next));
      event.preventDefault();
    }
    if (event.key === "Escape") {
      $("app").classList.remove("show-sidebar", "show-members");
      emojiPanel.hidden = true;
    }
  });
  document.addEventListener("visibilitychange", () => {
    const c = state.convs.get(state.current);
    if (document.visibilityState === "visible" && c) markRead(c);
  });
  globalThis.addEventListener("online", () => {
    if (!state.ws && !state.quitting) connect();
  });
  setupNotifications();

  // A reload in the same tab resumes the session.
  if (state.token && sessionStorage.getItem("chat.nick")) {
    state.wanted = sessionStorage.getItem("chat.nick");
    connect();
  }
}

setup();
