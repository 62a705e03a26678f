/**
 * tsgi.input over a stand-in for Node's IncomingMessage (a Readable with `rawTrailers`): what it
 * reads ahead, and how it ends when the body is cut, too large, or done.
 */
import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { RequestBodyTooLarge } from "../../../gateway/errors.js";
import { RequestInput } from "../../../gateway/input.js";

const KiB = 1024;

/** A request whose body is `chunks`, all of them already arrived (in Node's buffer). */
function requestOf(chunks: Buffer[], { end = true } = {}): Readable & IncomingMessage {
  const stream = new Readable({ read() {} });
  for (const chunk of chunks) stream.push(chunk);
  if (end) stream.push(null);
  return Object.assign(stream, { rawTrailers: [] }) as unknown as Readable & IncomingMessage;
}

const blocks = (count: number, size = 16 * KiB) =>
  Array.from({ length: count }, (_, i) => Buffer.alloc(size, i));

describe("RequestInput", () => {
  it("reads ahead at most about 64 KiB beyond what the app asked for (back-pressure)", async () => {
    const request = requestOf(blocks(64)); // 1 MiB waiting
    const input = new RequestInput(request);
    expect((await input.read(10)).length).toBe(10);
    await new Promise((resolve) => setTimeout(resolve, 20)); // time to read on, if it would
    expect(request.isPaused()).toBe(true);
    expect(request.readableLength).toBeGreaterThanOrEqual(1024 * KiB - 96 * KiB);
    expect(input.partlyRead).toBe(true);
    const rest = await input.read();
    expect(rest.length).toBe(1024 * KiB - 10);
    expect(input.partlyRead).toBe(false);
  });

  it("keeps chunks that arrive while the app works on the last one", async () => {
    const request = requestOf(blocks(8, 1000));
    let total = 0;
    for await (const chunk of new RequestInput(request)) {
      total += chunk.length;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(total).toBe(8000);
  });

  it("reads lines across chunks, and read(n) after them", async () => {
    const request = requestOf(["one\ntw", "o\nthr", "ee"].map((text) => Buffer.from(text)));
    const input = new RequestInput(request);
    const text = async (bytes: Promise<Uint8Array>) => Buffer.from(await bytes).toString();
    expect(await text(input.readline())).toBe("one\n");
    expect(await text(input.readline())).toBe("two\n");
    expect(await text(input.read(2))).toBe("th");
    expect(await text(input.read())).toBe("ree");
    expect(await text(input.read())).toBe("");
  });

  it("fails the read when the client goes away before the end of the body", async () => {
    const request = requestOf(blocks(1), { end: false });
    const input = new RequestInput(request);
    expect((await input.read(16 * KiB)).length).toBe(16 * KiB);
    const pending = input.read(1);
    request.destroy();
    await expect(pending).rejects.toThrow("aborted");
    await expect(input.read(1)).rejects.toThrow("aborted");
  });

  it("refuses a body over limit_request_body, and reads no more of it", async () => {
    const request = requestOf(blocks(8), { end: false });
    const input = new RequestInput(request, undefined, 40 * KiB);
    await expect(input.read()).rejects.toBeInstanceOf(RequestBodyTooLarge);
    expect(request.listenerCount("data")).toBe(0);
    expect(input.partlyRead).toBe(false);
  });

  it("answers Expect: 100-continue once, at the first read", async () => {
    let continues = 0;
    const input = new RequestInput(requestOf([Buffer.from("x")]), () => continues++);
    expect(continues).toBe(0);
    await input.read(1);
    await input.read();
    expect(continues).toBe(1);
  });
});
