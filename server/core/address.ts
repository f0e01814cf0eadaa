/**
 * Peer addresses: the key per-address limits and bans use, and which peers
 * count as this machine.
 *
 * @module
 */

/**
 * The key connections are counted under for `maxPerIp`: an IPv4 address, or
 * the /64 prefix of an IPv6 address (one subscriber usually owns a /64).
 *
 * @param hostname a peer address as Deno reports it
 * @returns the key
 */
export function addressKey(hostname: string): string {
  if (!hostname.includes(":")) return hostname;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(hostname);
  if (mapped) return mapped[1]!;
  const [head = "", tail = ""] = hostname.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === "" ? [] : tail.split(":");
  const groups = hostname.includes("::")
    ? [...left, ...Array(8 - left.length - right.length).fill("0"), ...right]
    : left;
  return groups.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(":") + "::/64";
}

/**
 * Whether a peer is this machine for the password rule: exactly `127.0.0.1`,
 * `::1` or `::ffff:127.0.0.1`. Other 127.0.0.0/8 addresses are deliberately
 * not: a proxy, tunnel or container bridge often connects from one, and
 * treating it as local would accept passwords that crossed a network
 * unencrypted. (Tests use 127.0.0.2 as the stand-in for a remote peer.)
 *
 * @param hostname a peer address as Deno reports it
 * @returns whether passwords from it may travel without TLS
 */
export function isLocalPeer(hostname: string | undefined): boolean {
  if (hostname === undefined) return false;
  const h = hostname.toLowerCase();
  return h === "127.0.0.1" || h === "::1" || h === "::ffff:127.0.0.1";
}

/**
 * Whether a word is an IP address literal (IPv4 dotted quad or IPv6).
 *
 * @param text the word
 */
export function isAddressLiteral(text: string): boolean {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(text)) return text.split(".").every((n) => Number(n) <= 255);
  return /^[0-9a-f:.]+$/i.test(text) && text.includes(":") && text.split("::").length <= 2;
}
