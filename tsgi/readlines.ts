/**
 * `readlines()` in terms of `readline()`, the same for every `tsgi.input`: the gateway's socket
 * reader and the test client's in-memory one both answer with it.
 */
import type { InputStream } from "./types.js";

/** The remaining lines of `input`; stops after the line that brings the total to `hint` bytes. */
export async function readlines(
  input: Pick<InputStream, "readline">,
  hint?: number,
): Promise<Uint8Array[]> {
  const lines: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const line = await input.readline();
    if (line.length === 0) return lines;
    lines.push(line);
    total += line.length;
    if (hint !== undefined && hint > 0 && total >= hint) return lines;
  }
}
