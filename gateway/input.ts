/**
 * `tsgi.input`: the request body as PEP 3333's file-like object, over Node's IncomingMessage.
 *
 * Nothing is allocated or read until the app asks: an app that never looks at the body costs
 * one small object. Node's parser has already removed the chunked framing and ends the stream
 * exactly at the end of the body, which is why `tsgi.input_terminated` is true.
 *
 * The body arrives through the request's `data` events, Node's cheapest way to read it (its
 * async iterator costs ~40 % more CPU per byte: docs/performance.md). Back-pressure is kept by
 * hand: once HIGH_WATER bytes wait unread, the request is paused, and a read resumes it.
 */
import type { IncomingMessage } from "node:http";
import type { InputStream } from "@foobar/tsgi";
import { readlines } from "@foobar/tsgi/readlines";
import { BadRequest, RequestBodyTooLarge } from "./errors.js";
import { forbiddenTrailer } from "./request-guard.js";

const EMPTY = new Uint8Array(0);
const NEWLINE = 0x0a;
/** Unread bytes at which the request is paused: one socket read's worth. */
const HIGH_WATER = 64 * 1024;

/** A read waiting for the next event: resolved true for data, false for the end. */
interface WaitingRead {
  resolve(more: boolean): void;
  reject(error: unknown): void;
}

export class RequestInput implements InputStream {
  readonly #request: IncomingMessage;
  /** True once the app has asked for the body (the listeners are on). */
  #started = false;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #ended = false;
  /** Why reading cannot go on (a broken chunk, a client gone, a forbidden trailer). */
  #failure: unknown;
  #waiting: WaitingRead | undefined;
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
    return this.#started && !this.#ended && !this.#tooLarge;
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
    for (;;) {
      // (Chunks may arrive while the consumer works on the last one.)
      if (this.#buffered > 0) yield this.#take(this.#buffered);
      else if (!(await this.#pull())) return;
    }
  }

  /** Reads and drops what the app left unread, so the connection can carry the next request. */
  async discard(): Promise<void> {
    do this.#take(this.#buffered);
    while (await this.#pull());
  }

  /**
   * Waits for more of the body than is buffered now: true when some arrived, false at the end.
   * The first call starts listening.
   */
  #pull(): Promise<boolean> {
    if (this.#tooLarge) return Promise.reject(this.#tooLargeError());
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#ended) return Promise.resolve(false);
    if (!this.#started) this.#start();
    const request = this.#request;
    if (request.isPaused()) request.resume();
    return new Promise((resolve, reject) => (this.#waiting = { resolve, reject }));
  }

  #start(): void {
    this.#started = true;
    this.#beforeFirstRead?.();
    this.#beforeFirstRead = undefined;
    const request = this.#request;
    request.on("data", this.#onData);
    request.once("end", this.#onEnd);
    request.once("error", this.#onFailure);
    // Closed before the end: the client went away (Node gives no error for that).
    request.once("close", this.#onClose);
  }

  #onData = (chunk: Buffer): void => {
    this.#received += chunk.length;
    if (this.#limit_request_body > 0 && this.#received > this.#limit_request_body) {
      this.#tooLarge = true;
      this.#stopListening();
      this.#request.pause(); // what follows is never read: the 413 closes the connection
      this.#settle((waiting) => waiting.reject(this.#tooLargeError()));
      return;
    }
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    if (this.#buffered >= HIGH_WATER && this.#waiting === undefined) this.#request.pause();
    this.#settle((waiting) => waiting.resolve(true));
  };

  #onEnd = (): void => {
    this.#ended = true;
    this.#stopListening();
    // The trailers came with the end of a chunked body: a forbidden one fails the read, as a
    // broken chunk would (the request guard closes the connection).
    const trailer = forbiddenTrailer(this.#request.rawTrailers);
    if (trailer !== null)
      this.#failure = new BadRequest(
        `Trailer field ${trailer} is not allowed (RFC 9110 section 6.5.1)`,
      );
    if (this.#failure !== undefined) this.#settle((waiting) => waiting.reject(this.#failure));
    else this.#settle((waiting) => waiting.resolve(false));
  };

  #onFailure = (error: unknown): void => {
    this.#failure ??= error;
    this.#stopListening();
    this.#settle((waiting) => waiting.reject(this.#failure));
  };

  #onClose = (): void => {
    if (this.#ended || this.#tooLarge) return;
    const error = Object.assign(new Error("aborted"), { code: "ECONNRESET" });
    this.#onFailure(error);
  };

  #stopListening(): void {
    const request = this.#request;
    request.off("data", this.#onData);
    request.off("end", this.#onEnd);
    request.off("error", this.#onFailure);
    request.off("close", this.#onClose);
  }

  /** Answers the read that waits, if one does. */
  #settle(answer: (waiting: WaitingRead) => void): void {
    const waiting = this.#waiting;
    if (waiting === undefined) return;
    this.#waiting = undefined;
    answer(waiting);
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
