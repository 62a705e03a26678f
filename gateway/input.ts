/**
 * `tsgi.input`: the request body as PEP 3333's file-like object, over Node's IncomingMessage.
 *
 * Nothing is allocated or read until the app asks: an app that never looks at the body costs
 * one small object. Node's parser has already removed the chunked framing and ends the stream
 * exactly at the end of the body, which is why `tsgi.input_terminated` is true.
 */
import type { IncomingMessage } from "node:http";
import type { InputStream } from "@foobar/tsgi";
import { readlines } from "@foobar/tsgi/readlines";
import { BadRequest, RequestBodyTooLarge } from "./errors.js";
import { forbiddenTrailer } from "./request-guard.js";

const EMPTY = new Uint8Array(0);
const NEWLINE = 0x0a;

export class RequestInput implements InputStream {
  readonly #request: IncomingMessage;
  #source: AsyncIterator<Buffer> | undefined;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #ended = false;
  /** Called once, before the first read: answers `Expect: 100-continue`. */
  #beforeFirstRead: (() => void) | undefined;
  /** 0 = none. The request guard refuses a larger Content-Length; a chunked body has no
   * length to check up front, so reading enforces it. */
  readonly #limit_request_body: number;
  #received = 0;
  #tooLarge = false;

  constructor(request: IncomingMessage, beforeFirstRead?: () => void, limit_request_body = 0) {
    this.#request = request;
    this.#beforeFirstRead = beforeFirstRead;
    this.#limit_request_body = limit_request_body;
  }

  /** True once the app has started reading and has not reached the end of the body. */
  get partlyRead(): boolean {
    // A body over the limit is never drained: the 413 closes the connection instead.
    return this.#source !== undefined && !this.#ended && !this.#tooLarge;
  }

  async read(size?: number): Promise<Uint8Array> {
    if (size === undefined || size < 0) {
      while (await this.#pull());
      return this.#take(this.#buffered);
    }
    while (this.#buffered < size && (await this.#pull()));
    return this.#take(Math.min(size, this.#buffered));
  }

  async readline(size?: number): Promise<Uint8Array> {
    const limit = size === undefined || size < 0 ? Infinity : size;
    let scanned = 0;
    for (;;) {
      const end = this.#indexOfNewline(scanned);
      if (end !== -1) return this.#take(Math.min(end + 1, limit));
      if (this.#buffered >= limit) return this.#take(limit);
      scanned = this.#buffered;
      if (!(await this.#pull())) return this.#take(Math.min(this.#buffered, limit));
    }
  }

  readlines(hint?: number): Promise<Uint8Array[]> {
    return readlines(this, hint);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    if (this.#buffered > 0) yield this.#take(this.#buffered);
    while (await this.#pull()) yield this.#take(this.#buffered);
  }

  /** Reads and drops what the app left unread, so the connection can carry the next request. */
  async discard(): Promise<void> {
    while (await this.#pull()) this.#take(this.#buffered);
  }

  /** Moves one chunk from the socket into the buffer; false at the end of the body. */
  async #pull(): Promise<boolean> {
    if (this.#tooLarge) throw this.#tooLargeError();
    if (this.#ended) return false;
    if (this.#source === undefined) {
      this.#beforeFirstRead?.();
      this.#beforeFirstRead = undefined;
      this.#source = this.#request[Symbol.asyncIterator]();
    }
    const next = await this.#source.next();
    if (next.done === true) {
      this.#ended = true;
      // The trailers came with the end of a chunked body: a forbidden one fails the read, as a
      // broken chunk would (the request guard closes the connection).
      const trailer = forbiddenTrailer(this.#request.rawTrailers);
      if (trailer !== null)
        throw new BadRequest(`Trailer field ${trailer} is not allowed (RFC 9110 section 6.5.1)`);
      return false;
    }
    const chunk = next.value;
    this.#received += chunk.length;
    if (this.#limit_request_body > 0 && this.#received > this.#limit_request_body) {
      this.#tooLarge = true;
      throw this.#tooLargeError();
    }
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    return true;
  }

  #tooLargeError(): RequestBodyTooLarge {
    return new RequestBodyTooLarge(
      `Request body is too large (limit ${this.#limit_request_body} bytes)`,
    );
  }

  #indexOfNewline(from: number): number {
    let offset = 0;
    for (const chunk of this.#chunks) {
      if (from < offset + chunk.length) {
        const at = chunk.indexOf(NEWLINE, Math.max(0, from - offset));
        if (at !== -1) return offset + at;
      }
      offset += chunk.length;
    }
    return -1;
  }

  /** Removes and returns the first `size` buffered bytes. */
  #take(size: number): Uint8Array {
    if (size === 0) return EMPTY;
    const first = this.#chunks[0];
    if (first !== undefined && first.length === size) {
      this.#chunks.shift();
      this.#buffered -= size;
      return first;
    }
    const all = this.#chunks.length === 1 ? first! : Buffer.concat(this.#chunks, this.#buffered);
    const taken = all.subarray(0, size);
    const rest = all.subarray(size);
    this.#chunks = rest.length > 0 ? [rest] : [];
    this.#buffered = rest.length;
    return taken;
  }
}
