/**
 * Reading a password: without echo on a terminal (raw mode, nothing
 * printed but the prompt), or the next line of piped stdin.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Asks for a secret.
 *
 * @param prompt shown on stderr before reading (terminal only), e.g. `password: `
 * @param stdin where to read @default {Deno.stdin}
 * @returns the secret without its line ending, or `undefined` at end of
 * input or on Ctrl+C / Ctrl+D
 */
export async function readSecret(
  prompt: string,
  stdin: typeof Deno.stdin = Deno.stdin,
): Promise<string | undefined> {
  if (!stdin.isTerminal()) return await readLine(stdin);
  Deno.stderr.writeSync(encoder.encode(prompt));
  stdin.setRaw(true);
  const bytes: number[] = [];
  const buf = new Uint8Array(64);
  try {
    for (;;) {
      const n = await stdin.read(buf);
      if (n === null) return undefined;
      for (const b of buf.subarray(0, n)) {
        if (b === 0x0d || b === 0x0a) return decoder.decode(new Uint8Array(bytes));
        if (b === 0x03 || (b === 0x04 && bytes.length === 0)) return undefined;
        if (b === 0x7f || b === 0x08) bytes.pop();
        else if (b >= 0x20 || b === 0x09) bytes.push(b);
      }
    }
  } finally {
    stdin.setRaw(false);
    Deno.stderr.writeSync(encoder.encode("\n"));
  }
}

/** Reads one line from a pipe, byte by byte so nothing after it is consumed. */
async function readLine(stdin: typeof Deno.stdin): Promise<string | undefined> {
  const bytes: number[] = [];
  const one = new Uint8Array(1);
  for (;;) {
    const n = await stdin.read(one);
    if (n === null) return bytes.length > 0 ? decoder.decode(new Uint8Array(bytes)) : undefined;
    if (one[0] === 0x0a) break;
    bytes.push(one[0]!);
  }
  if (bytes.at(-1) === 0x0d) bytes.pop();
  return decoder.decode(new Uint8Array(bytes));
}
