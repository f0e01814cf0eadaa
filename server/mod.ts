/**
 * The chat server. `core/` holds the shared state and sessions (no sockets):
 * hub, rooms, sessions, commands, flood control, outbound frames.
 * `transports/` holds the thin adapters that feed sessions bytes (TCP JSON
 * and plain text) with their send queues and flow control. `store/` keeps
 * history, rooms and sessions (memory or SQLite). `server.ts` is the accept
 * loop that ties them together.
 *
 * @module
 */

export * from "./core/commands.ts";
export * from "./core/flood.ts";
export * from "./core/hub.ts";
export * from "./core/outbound.ts";
export * from "./core/room.ts";
export * from "./core/session.ts";
export * from "./transports/pressure.ts";
export * from "./transports/send_queue.ts";
export * from "./transports/tcp.ts";
export * from "./transports/tls.ts";
export * from "./store/store.ts";
export * from "./server.ts";
