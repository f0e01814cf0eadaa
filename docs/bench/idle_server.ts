// Deno's own cost per idle TcpConn: accept N connections, each parked in one read.
// usage: deno run -A idle_server.ts PORT BUFSIZE [noread]
const [port, size, mode] = [Number(Deno.args[0]), Number(Deno.args[1]), Deno.args[2]];
const listener = Deno.listen({ hostname: "127.0.0.1", port });
const conns: Deno.TcpConn[] = [];
(globalThis as { gc?: () => void }).gc?.();
console.log("base", Deno.memoryUsage().rss);
for await (const conn of listener) {
  conns.push(conn);
  if (mode !== "noread") {
    const buf = new Uint8Array(size);
    (async () => {
      try {
        while ((await conn.read(buf)) !== null);
      } catch { /* */ }
    })();
  }
}
