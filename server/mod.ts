/**
 * The chat server: shared state and sessions (socket-free) plus the TCP
 * adapter and the accept loop.
 *
 * @module
 */

export * from "./commands.ts";
export * from "./flood.ts";
export * from "./hub.ts";
export * from "./outbound.ts";
export * from "./pressure.ts";
export * from "./send_queue.ts";
export * from "./server.ts";
export * from "./room.ts";
export * from "./session.ts";
export * from "./store.ts";
export * from "./tcp_connection.ts";
