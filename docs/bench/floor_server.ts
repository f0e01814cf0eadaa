// The floor for the latency scenario: the least a Deno line broadcaster can do. The first line of a
// connection is its nickname; every later line goes to every other connection as `nick: line`,
// joined per receiver and written once per turn (as `chat server` does). No rooms, no limits, no
// history, no JSON. It measures what the runtime's writes cost, not a design. For the rooms
// scenario, a line `/join #name` moves the connection into that room (answered with
// `* now talking in #name`, the line chatbench waits for) and its lines then go to that room only.
// usage: deno run -A floor_server.ts PORT [deno|node] [LIMIT]
//   deno: Deno.listen and conn.write (what chat uses); node: node:net and socket.write
//   LIMIT: drop a receiver with more than LIMIT bytes waiting (a slow consumer), as chat does
import net from "node:net";

const port = Number(Deno.args[0]);
const api = Deno.args[1] ?? "deno";
const encoder = new TextEncoder();
const WELCOME = encoder.encode("* welcome\n");
/** Bytes waiting for one receiver beyond which it is dropped (0: never), e.g. chat's default
 * `--send-queue` (1048576) for the slow-consumer scenario. */
const LIMIT = Number(Deno.args[2] ?? 0) || Infinity;

interface Peer {
  write(bytes: Uint8Array): void;
  pending: Uint8Array[];
  room?: Set<Peer>;
}

const rooms = new Map<string, Set<Peer>>();
const peers = new Set<Peer>(); // everyone, and the room of those who joined none
let dirty: Peer[] = [];

function flush(): void {
  const batch = dirty;
  dirty = [];
  for (const peer of batch) {
    const parts = peer.pending;
    peer.pending = [];
    let bytes = parts[0]!;
    if (parts.length > 1) {
      bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let offset = 0;
      for (const p of parts) {
        bytes.set(p, offset);
        offset += p.length;
      }
    }
    peer.write(bytes);
  }
}

function push(peer: Peer, bytes: Uint8Array): void {
  if (peer.pending.push(bytes) === 1 && dirty.push(peer) === 1) queueMicrotask(flush);
}

/** Returns a function taking each chunk read; it splits lines and broadcasts them. */
function lines(peer: Peer): (chunk: Uint8Array) => void {
  const decoder = new TextDecoder();
  let carry = "";
  let nick: string | undefined;
  return (chunk) => {
    const parts = (carry + decoder.decode(chunk, { stream: true })).split("\n");
    carry = parts.pop()!;
    for (const line of parts) {
      if (nick === undefined) {
        nick = line.trim();
        peers.add(peer);
        push(peer, WELCOME); // what chatbench's --ready waits for in the idle scenarios
        continue;
      }
      if (line.startsWith("/join ")) {
        const name = line.slice(6).trim();
        peer.room?.delete(peer);
        peer.room = rooms.get(name) ?? rooms.set(name, new Set()).get(name)!;
        peer.room.add(peer);
        push(peer, encoder.encode(`* now talking in ${name}\n`));
        continue;
      }
      const out = encoder.encode(`${nick}: ${line}\n`);
      for (const other of peer.room ?? peers) if (other !== peer) push(other, out);
    }
  };
}

async function serveDeno(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  // One write in flight per connection; what arrives meanwhile waits in `later`. Like chat's
  // send queue, a receiver with more than LIMIT bytes waiting is dropped.
  let writing = false;
  let later: Uint8Array[] = [];
  let waiting = 0;
  const peer: Peer = {
    pending: [],
    write(bytes) {
      if (writing) {
        later.push(bytes);
        if ((waiting += bytes.length) > LIMIT) drop();
        return;
      }
      writing = true;
      conn.write(bytes).then((n) => {
        writing = false;
        const rest = n < bytes.length ? [bytes.subarray(n), ...later] : later;
        later = [];
        waiting = 0;
        for (const b of rest) peer.write(b);
      }, () => peers.delete(peer));
    },
  };
  const drop = () => {
    peers.delete(peer);
    peer.room?.delete(peer);
    later = [];
    peer.write = () => {};
    try {
      conn.close();
    } catch { /* closed */ }
  };
  const take = lines(peer);
  // As chat: a small first buffer (an idle connection's parked read holds it), doubled when filled.
  let buf = new Uint8Array(128);
  try {
    for (let n; (n = await conn.read(buf)) !== null;) {
      take(buf.subarray(0, n));
      if (n === buf.length && n < 16 * 1024) buf = new Uint8Array(n * 2);
    }
  } catch { /* reset, or dropped */ }
  peers.delete(peer);
  peer.room?.delete(peer);
  try {
    conn.close();
  } catch { /* dropped */ }
}

if (api === "node") {
  net.createServer((socket) => {
    socket.setNoDelay(true);
    const peer: Peer = {
      pending: [],
      write: (bytes) => {
        socket.write(bytes);
        if (socket.writableLength > LIMIT) {
          peers.delete(peer);
          peer.room?.delete(peer);
          socket.destroy();
        }
      },
    };
    socket.on("data", lines(peer));
    socket.on("error", () => {});
    socket.on("close", () => (peers.delete(peer), peer.room?.delete(peer)));
  }).listen(port, "127.0.0.1");
} else {
  for await (const conn of Deno.listen({ hostname: "127.0.0.1", port })) serveDeno(conn);
}
