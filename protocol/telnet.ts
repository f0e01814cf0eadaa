/**
 * The least of Telnet a line server must speak (RFC 854, RFC 860): take the
 * commands a telnet client mixes into its input out of the data, refuse every
 * option it asks for (answer `DO` with `WONT`, `WILL` with `DONT`), answer
 * `DO TIMING-MARK` with `WILL TIMING-MARK` (a client that sends it discards
 * all output until that answer), and escape 0xFF in output as `IAC IAC`.
 * Pure: bytes in, bytes out.
 *
 * @module
 */

/** Interpret As Command (RFC 854). */
export const IAC = 0xff;
const DONT = 0xfe;
const DO = 0xfd;
const WONT = 0xfc;
const WILL = 0xfb;
const SB = 0xfa;
const SE = 0xf0;
/** The TIMING-MARK option (RFC 860). */
export const TIMING_MARK = 6;
/**
 * Longest subnegotiation kept out of the data. Real ones (window size,
 * terminal type) are a few bytes; past this the peer is not speaking Telnet
 * and the rest is data again, so the line limit still applies to it.
 */
const MAX_SUB = 512;

const enum State {
  Data,
  Command,
  Option,
  Sub,
  SubCommand,
}

/** What {@linkcode TelnetFilter.push} returns. */
export interface TelnetResult {
  /** The data, without Telnet commands (`IAC IAC` becomes one 0xFF). */
  data: Uint8Array;
  /** What to send back (option refusals, the TIMING-MARK answer), if anything. */
  reply: Uint8Array | undefined;
}

/**
 * Strips Telnet commands from a byte stream, keeping its state across reads
 * (a command may be split between two). Input without 0xFF passes through
 * untouched and uncopied while no command is half-read.
 *
 * @example
 * ```ts
 * import { TelnetFilter } from "./telnet.ts";
 * const telnet = new TelnetFilter();
 * const { data, reply } = telnet.push(new Uint8Array([0x68, 0xff, 0xfd, 0x06, 0x69]));
 * // data: "hi"; reply: IAC WILL TIMING-MARK
 * ```
 */
export class TelnetFilter {
  #state: State = State.Data;
  #verb = 0;
  #sub = 0; // bytes of the subnegotiation so far
  /** Options already refused, as `verb << 8 | option`: each is answered once (no loops). */
  readonly #answered = new Set<number>();

  /**
   * Filters one read.
   *
   * @param input bytes from the peer
   * @returns the data and the reply
   */
  push(input: Uint8Array): TelnetResult {
    if (this.#state === State.Data && input.indexOf(IAC) === -1) {
      return { data: input, reply: undefined };
    }
    const data: number[] = [];
    const reply: number[] = [];
    for (const byte of input) {
      switch (this.#state) {
        case State.Data:
          if (byte === IAC) this.#state = State.Command;
          else data.push(byte);
          break;
        case State.Command:
          if (byte === IAC) {
            data.push(IAC);
            this.#state = State.Data;
          } else if (byte >= WILL && byte <= DONT) {
            this.#verb = byte;
            this.#state = State.Option;
          } else if (byte === SB) {
            this.#state = State.Sub;
            this.#sub = 0;
          } else {
            // NOP, DM, BRK, IP, AO, AYT, EC, EL, GA, SE: no data, no answer.
            this.#state = State.Data;
          }
          break;
        case State.Option:
          this.#answer(this.#verb, byte, reply);
          this.#state = State.Data;
          break;
        case State.Sub:
          if (byte === IAC) this.#state = State.SubCommand;
          else if (++this.#sub > MAX_SUB) this.#state = State.Data;
          break;
        case State.SubCommand:
          this.#state = byte === SE ? State.Data : State.Sub;
          break;
      }
    }
    return {
      data: Uint8Array.from(data),
      reply: reply.length > 0 ? Uint8Array.from(reply) : undefined,
    };
  }

  #answer(verb: number, option: number, reply: number[]): void {
    if (verb === DO && option === TIMING_MARK) {
      // RFC 860: "the receiver ... responds WILL TIMING-MARK" once everything
      // before it was processed, which it is by the time this is written.
      reply.push(IAC, WILL, TIMING_MARK);
      return;
    }
    if (verb === DONT || verb === WONT) return; // already off: nothing to say
    const key = verb << 8 | option;
    if (this.#answered.has(key)) return;
    this.#answered.add(key);
    reply.push(IAC, verb === DO ? WONT : DONT, option);
  }
}

/**
 * Escapes output for a Telnet peer: every 0xFF byte is doubled (RFC 854).
 *
 * @param bytes output
 * @returns the same array when it holds no 0xFF, else an escaped copy
 */
export function escapeTelnet(bytes: Uint8Array): Uint8Array {
  let at = bytes.indexOf(IAC);
  if (at === -1) return bytes;
  const out: number[] = [];
  let from = 0;
  while (at !== -1) {
    for (let i = from; i <= at; i++) out.push(bytes[i]!);
    out.push(IAC);
    from = at + 1;
    at = bytes.indexOf(IAC, from);
  }
  for (let i = from; i < bytes.length; i++) out.push(bytes[i]!);
  return Uint8Array.from(out);
}
