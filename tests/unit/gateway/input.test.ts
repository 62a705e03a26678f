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
    await expect(pending).rejects.toMatchObject({ code: "ECONNRESET" });
    await expect(input.read(1)).rejects.toThrow("aborted");
  });

  it("refuses a body over limit_request_body, and reads no more of it", async () => {
    const request = requestOf(blocks(8), { end: false });
    const input = new RequestInput(request, undefined, 40 * KiB);
    const refusal = input.read();
    await expect(refusal).rejects.toBeInstanceOf(RequestBodyTooLarge);
    await expect(refusal).rejects.toThrow("Request body is too large (limit 40960 bytes)");
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

  const text = async (bytes: Promise<Uint8Array>) => Buffer.from(await bytes).toString();
  const tick = () => new Promise((resolve) => setImmediate(resolve));

  it("a negative size reads everything (to the newline); a size of 0 reads nothing", async () => {
    const input = new RequestInput(requestOf([Buffer.from("one\ntwo\nthree")]));
    expect(await text(input.read(0))).toBe("");
    expect(await text(input.readline(0))).toBe("");
    expect(await text(input.readline(-1))).toBe("one\n");
    expect(await text(input.read(-1))).toBe("two\nthree");
  });

  it("readline(n) answers once n bytes are in, without waiting for more", async () => {
    const input = new RequestInput(requestOf([Buffer.from("abc")], { end: false }));
    expect(await text(input.readline(3))).toBe("abc");
  });

  it("finds a line that arrives over several reads of the socket", async () => {
    const request = requestOf([Buffer.from("ab")], { end: false });
    const input = new RequestInput(request);
    const line = input.readline();
    await tick();
    request.push(Buffer.from("cd"));
    await tick();
    request.push(Buffer.from("e\nf"));
    request.push(null);
    expect(await text(line)).toBe("abcde\n");
    expect(await text(input.read())).toBe("f");
  });

  it("discard() reads what is left to the end of the body", async () => {
    const request = requestOf([Buffer.from("unread")], { end: false });
    const input = new RequestInput(request);
    expect(await text(input.read(2))).toBe("un");
    const discarded = input.discard();
    await tick();
    request.push(Buffer.from("more"));
    await tick();
    request.push(null);
    await discarded;
    expect(request.readableEnded).toBe(true);
    expect(input.partlyRead).toBe(false);
  });

  it("leaves no listener on the request once the body is read", async () => {
    const request = requestOf([Buffer.from("body")]);
    await new RequestInput(request).read();
    for (const event of ["data", "end", "error", "close"])
      expect(request.listenerCount(event), event).toBe(0);
  });

  it("fails the read with the request's own error", async () => {
    const request = requestOf([], { end: false });
    const input = new RequestInput(request);
    const pending = input.read();
    await tick();
    const failure = new Error("parse error in the chunked body");
    request.destroy(failure);
    await expect(pending).rejects.toBe(failure);
  });

  it("fails the read at the end of a body whose trailers include a forbidden field", async () => {
    const request = Object.assign(requestOf([Buffer.from("x")]), { rawTrailers: ["Host", "x"] });
    await expect(new RequestInput(request).read()).rejects.toThrow(
      "Trailer field Host is not allowed (RFC 9110 section 6.5.1)",
    );
  });

  it("pauses the request when 64 KiB wait unread, not before", async () => {
    for (const [size, paused] of [
      [64 * KiB - 1, false],
      [64 * KiB, true],
    ] as const) {
      const request = requestOf([Buffer.from("x")], { end: false });
      const input = new RequestInput(request);
      await input.read(1); // listening now, and no read waits
      request.push(Buffer.alloc(size));
      await tick();
      expect(request.isPaused(), `${size} bytes unread`).toBe(paused);
    }
  });
});
