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
 * An IP network: a family, its first address as a number (host bits zero)
 * and a prefix length in bits (32 or 128 for one address).
 */
export interface Network {
  family: 4 | 6;
  /** The address as an unsigned integer (32 or 128 bits). */
  base: bigint;
  /** Prefix length in bits: 0–32 (IPv4) or 0–128 (IPv6). */
  length: number;
}

/** The shortest prefix a ban may name: a wider one shuts out a large part of the Internet. */
export const MIN_BAN_PREFIX: Readonly<Record<4 | 6, number>> = { 4: 8, 6: 32 };

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function parseIpv4(text: string): bigint | undefined {
  const m = IPV4.exec(text);
  if (!m) return undefined;
  let value = 0n;
  for (const part of m.slice(1)) {
    // No leading zeros: `010` reads as octal in some tools and as decimal in others.
    if (part.length > 1 && part.startsWith("0")) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

/** An IPv6 address in RFC 4291 §2.2 text (one `::`, an optional dotted IPv4 tail), as a number. */
function parseIpv6(text: string): bigint | undefined {
  if (!/^[0-9a-f:.]+$/i.test(text)) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (half: string): string[] | undefined => half === "" ? [] : half.split(":");
  const left = groups(halves[0]!);
  const right = halves.length === 2 ? groups(halves[1]!) : [];
  if (!left || !right) return undefined;
  const words: number[] = [];
  const all = [...left, ...right];
  for (let i = 0; i < all.length; i++) {
    const g = all[i]!;
    if (i === all.length - 1 && g.includes(".")) {
      const v4 = parseIpv4(g);
      if (v4 === undefined) return undefined;
      words.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
    } else if (/^[0-9a-f]{1,4}$/i.test(g)) words.push(parseInt(g, 16));
    else return undefined;
  }
  // A dotted IPv4 tail ends the address: never before the `::`.
  if (halves.length === 2 && left.some((g) => g.includes("."))) return undefined;
  const leftWords = left.length;
  if (halves.length === 2 ? words.length > 7 : words.length !== 8) return undefined;
  const filled = halves.length === 2
    ? [
      ...words.slice(0, leftWords),
      ...Array(8 - words.length).fill(0),
      ...words.slice(leftWords),
    ]
    : words;
  let value = 0n;
  for (const w of filled) value = (value << 16n) | BigInt(w);
  return value;
}

/** `::ffff:0:0/96`: IPv4 addresses as IPv6 (RFC 4291 §2.5.5.2). */
const MAPPED = 0xffffn << 32n;

/**
 * Parses an IP address as a peer's: IPv4, IPv6, or IPv4-mapped IPv6 (read
 * as the IPv4 address).
 *
 * @param text an address, e.g. `10.0.0.7`, `2001:db8::1`, `::ffff:10.0.0.7`
 * @returns a one-address network (length 32 or 128), or `undefined` when it is none
 */
export function parseAddress(text: string): Network | undefined {
  const v4 = parseIpv4(text);
  if (v4 !== undefined) return { family: 4, base: v4, length: 32 };
  const v6 = parseIpv6(text);
  if (v6 === undefined) return undefined;
  if (v6 >> 32n === MAPPED >> 32n) return { family: 4, base: v6 & 0xffffffffn, length: 32 };
  return { family: 6, base: v6, length: 128 };
}

function width(family: 4 | 6): bigint {
  return family === 4 ? 32n : 128n;
}

/**
 * Whether a network holds an address.
 *
 * @param network the network
 * @param address a one-address network from {@linkcode parseAddress}
 */
export function networkContains(network: Network, address: Network): boolean {
  if (network.family !== address.family) return false;
  const shift = width(network.family) - BigInt(network.length);
  return address.base >> shift === network.base >> shift;
}

/**
 * A network as text: IPv4 `10.1.0.0/16` (a single address without `/32`),
 * IPv6 in RFC 5952's form (`2001:db8::/64`), always with its length.
 *
 * @param network the network
 * @returns the text
 */
export function formatNetwork(network: Network): string {
  if (network.family === 4) {
    const b = network.base;
    const dotted = [24n, 16n, 8n, 0n].map((s) => String((b >> s) & 255n)).join(".");
    return network.length === 32 ? dotted : `${dotted}/${network.length}`;
  }
  const words = Array.from(
    { length: 8 },
    (_, i) => Number((network.base >> BigInt(112 - 16 * i)) & 0xffffn),
  );
  // RFC 5952 §4.2: the longest run of two or more zero words (the first of equals) becomes `::`.
  let start = -1, run = 0;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > run && j - i >= 2) [start, run] = [i, j - i];
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(":");
  const text = start === -1
    ? hex(words)
    : `${hex(words.slice(0, start))}::${hex(words.slice(start + run))}`;
  return `${text}/${network.length}`;
}

/**
 * The network an address ban of one peer covers: an IPv4 address whole, an
 * IPv6 address's /64 (as {@linkcode addressKey} counts connections).
 *
 * @param address a one-address network from {@linkcode parseAddress}
 * @returns the network
 */
export function peerNetwork(address: Network): Network {
  return address.family === 4
    ? address
    : { ...address, base: address.base >> 64n << 64n, length: 64 };
}

/** Whether a word is meant as an address or a prefix (a ban's target), well formed or not. */
export function looksLikeAddress(text: string): boolean {
  return text.includes("/") || text.includes(":") || /^\d+(\.\d+){3}$/.test(text);
}

/**
 * Parses what an address ban names: an address (IPv4 whole; IPv6 its /64,
 * the block one subscriber usually gets) or a network in CIDR prefix
 * notation (RFC 4632 §3.1), `10.1.0.0/16` or `2001:db8::/48`.
 *
 * @param text the word
 * @returns the network
 * @throws {SyntaxError} when the text is neither an address nor a prefix
 * @throws {RangeError} when the prefix length is out of range (IPv4 /8–/32,
 * IPv6 /32–/128, see {@linkcode MIN_BAN_PREFIX}) or the address has bits set
 * past it (`10.1.2.0/16`: did you mean `10.1.0.0/16`)
 */
export function parseBanNetwork(text: string): Network {
  const m = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(text);
  const address = m ? parseAddress(m[1]!) : undefined;
  if (!m || !address || (m[2] !== undefined && m[2].length > 1 && m[2].startsWith("0"))) {
    throw new SyntaxError(
      `Cannot read "${text}" as an address or prefix: write an IPv4 or IPv6 address, optionally with /LENGTH, e.g. 10.1.0.0/16 or 2001:db8::/48`,
    );
  }
  const max = Number(width(address.family));
  if (m[2] === undefined) return peerNetwork(address);
  const length = Number(m[2]);
  // A mapped IPv4 prefix is an IPv4 one: its length counts past the 96 mapped bits.
  const family = address.family;
  const own = /:/.test(m[1]!) && family === 4 ? length - 96 : length;
  const min = MIN_BAN_PREFIX[family];
  if (own < min || own > max) {
    throw new RangeError(
      `Cannot ban "${text}": an IPv${family} prefix must be /${min} to /${max}${
        family === 4 && /:/.test(m[1]!) ? " past the mapped ::ffff:0:0/96" : ""
      }`,
    );
  }
  const network: Network = { family, base: address.base, length: own };
  const shift = BigInt(max - own);
  const masked = { ...network, base: network.base >> shift << shift };
  if (masked.base !== network.base) {
    throw new RangeError(
      `Cannot ban "${text}": it has bits set past /${length}; did you mean ${
        formatNetwork(masked)
      }?`,
    );
  }
  return network;
}
