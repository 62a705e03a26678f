/**
 * Test helpers for talking HTTP byte by byte: the corpus file format, a raw-socket client and a
 * forgiving response reader. Nothing here trusts the server to be well-behaved: a malformed
 * response is reported as such, never papered over.
 */
import { readdirSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";

/** Settings a corpus case may change for its gateway (snake_case, as in ServerSettings). */
export type CaseSettings = Record<string, number | string | boolean>;

/** What a case expects from one server (the gateway directly, or nginx in front of it). */
export interface Expectation {
  /** Status of each response, in order (pipelined requests have several). */
  statuses: number[];
  /** True when the server must close the connection after those responses (or with none). */
  close: boolean;
  /** An HTTP/0.9-style answer: bytes without a status line (nginx answers 0.9 requests so). */
  unframed: boolean;
}

export interface CorpusCase {
  name: string;
  bytes: Buffer;
  why: string;
  settings: CaseSettings;
  /** Half-close the connection after sending (the client is done, or went away mid-request). */
  end: boolean;
  /** The request that proves the server still serves (one that fits the case's settings). */
  normalRequest: Buffer;
  direct: Expectation;
  viaNginx: Expectation;
}

interface RawExpectation {
  status?: number;
  statuses?: number[];
  close?: boolean;
  unframed?: boolean;
  why?: string;
}

interface CaseFile extends RawExpectation {
  why: string;
  settings?: CaseSettings;
  end?: boolean;
  normal_request?: string;
  via_nginx?: RawExpectation;
}

/**
 * Gunicorn's fixture escapes: real newlines are layout only; `\r` `\n` `\t` `\0` `\xHH` and `\\`
 * are bytes. One addition keeps over-long cases readable: `\*N{text}` is text repeated N times.
 */
export function decodeRequest(source: string): Buffer {
  let repeated = source.replace(/\r?\n/g, "");
  // Innermost first, so repeats may nest.
  for (let previous = ""; previous !== repeated;) {
    previous = repeated;
    repeated = repeated.replace(/\\\*(\d+)\{([^{}]*)\}/g, (_m, count: string, text: string) =>
      text.repeat(Number(count)),
    );
  }
  const bytes: number[] = [];
  for (let i = 0; i < repeated.length; i++) {
    const char = repeated[i]!;
    if (char !== "\\") {
      const code = repeated.charCodeAt(i);
      if (code > 0xff) throw new Error(`corpus text must be Latin-1, got U+${code.toString(16)}`);
      bytes.push(code);
      continue;
    }
    const next = repeated[++i];
    if (next === "r") bytes.push(0x0d);
    else if (next === "n") bytes.push(0x0a);
    else if (next === "t") bytes.push(0x09);
    else if (next === "0") bytes.push(0x00);
    else if (next === "\\") bytes.push(0x5c);
    else if (next === "x") {
      bytes.push(parseInt(repeated.slice(i + 1, i + 3), 16));
      i += 2;
    } else throw new Error(`unknown escape \\${next} in corpus text`);
  }
  return Buffer.from(bytes);
}

function expectation(raw: RawExpectation, where: string): Expectation {
  const statuses = raw.statuses ?? (raw.status === undefined ? [] : [raw.status]);
  const close = raw.close ?? (statuses.length > 0 && statuses.at(-1)! >= 400);
  if (statuses.length === 0 && !close)
    throw new Error(`${where}: expects neither status nor close`);
  return { statuses, close, unframed: raw.unframed ?? false };
}

export const CORPUS_DIR = join(import.meta.dirname, "..", "corpus");

/** Every `NNN-name.http` + `NNN-name.json` pair in tests/corpus, in name order. */
export function loadCorpus(dir = CORPUS_DIR): CorpusCase[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith(".http"))
    .sort()
    .map((file) => {
      const name = file.slice(0, -5);
      const spec = JSON.parse(readFileSync(join(dir, name + ".json"), "utf8")) as CaseFile;
      if (!spec.why) throw new Error(`${name}.json: say why the case exists ("why")`);
      const direct = expectation(spec, name);
      return {
        name,
        bytes: decodeRequest(readFileSync(join(dir, file), "latin1")),
        why: spec.why,
        settings: spec.settings ?? {},
        end: spec.end ?? false,
        normalRequest:
          spec.normal_request === undefined ? NORMAL_GET : decodeRequest(spec.normal_request),
        direct,
        viaNginx: spec.via_nginx === undefined ? direct : expectation(spec.via_nginx, name),
      };
    });
}

export interface RawResponse {
  status: number;
  reason: string;
  headers: [string, string][];
  body: Buffer;
  header(name: string): string | undefined;
}

export interface Exchange {
  responses: RawResponse[];
  /** The server closed the connection (rather than the client giving up waiting). */
  closed: boolean;
  /** Bytes after the last complete response that do not form a response: must be empty. */
  garbage: Buffer;
}

/** Parses as many complete HTTP/1.x responses as `data` holds; the rest is returned as is. */
export function parseResponses(
  data: Buffer,
  closed: boolean,
): { responses: RawResponse[]; rest: Buffer } {
  const responses: RawResponse[] = [];
  let offset = 0;
  for (;;) {
    const headEnd = data.indexOf("\r\n\r\n", offset);
    if (headEnd === -1) break;
    const lines = data.subarray(offset, headEnd).toString("latin1").split("\r\n");
    const match = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0]!);
    if (match === null) break;
    const headers = lines.slice(1).map((line): [string, string] => {
      const colon = line.indexOf(":");
      return [line.slice(0, colon), line.slice(colon + 1).trim()];
    });
    const header = (name: string) =>
      headers.find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1];
    const status = Number(match[1]);
    let cursor = headEnd + 4;
    if (status >= 100 && status < 200 && status !== 101) {
      // Interim (100 Continue): not an answer; the final response follows.
      offset = cursor;
      continue;
    }
    let body: Buffer;
    const length = header("content-length");
    if (status < 200 || status === 204 || status === 304) body = Buffer.alloc(0);
    else if (header("transfer-encoding")?.toLowerCase() === "chunked") {
      const parts: Buffer[] = [];
      for (;;) {
        const lineEnd = data.indexOf("\r\n", cursor);
        if (lineEnd === -1) return { responses, rest: data.subarray(offset) };
        const size = parseInt(data.subarray(cursor, lineEnd).toString("latin1"), 16);
        if (Number.isNaN(size)) return { responses, rest: data.subarray(offset) };
        if (data.length < lineEnd + 2 + size + 2) return { responses, rest: data.subarray(offset) };
        parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
        cursor = lineEnd + 2 + size + 2;
        if (size === 0) break;
      }
      body = Buffer.concat(parts);
    } else if (length !== undefined) {
      const size = Number(length);
      if (data.length < cursor + size) break;
      body = data.subarray(cursor, cursor + size);
      cursor += size;
    } else {
      if (!closed) break; // delimited by the close: not complete yet
      body = data.subarray(cursor);
      cursor = data.length;
    }
    responses.push({ status, reason: match[2]!, headers, body, header });
    offset = cursor;
  }
  return { responses, rest: data.subarray(offset) };
}

/**
 * Sends `bytes` on a fresh connection and reads until `expected` responses have arrived (and,
 * when `waitForClose`, the server has closed), or `timeoutMs` passes.
 */
export function exchange(
  port: number,
  bytes: Buffer,
  {
    expected,
    waitForClose,
    end = false,
    timeoutMs = 10_000,
    host = "127.0.0.1",
    localAddress,
  }: {
    expected: number;
    waitForClose: boolean;
    end?: boolean;
    timeoutMs?: number;
    host?: string;
    /** Connect from this address (e.g. 127.0.0.2: a loopback peer that is not trusted). */
    localAddress?: string;
  },
): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host, localAddress });
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const { responses, rest } = parseResponses(Buffer.concat(chunks), closed);
      resolve({ responses, closed, garbage: rest });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on("connect", () => {
      socket.write(bytes);
      if (end) socket.end();
    });
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      if (waitForClose) return;
      const { responses } = parseResponses(Buffer.concat(chunks), false);
      if (responses.length >= expected) finish(false);
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      // A reset after the server has said its piece is a close, not a test failure.
      if (error.code === "ECONNRESET" || error.code === "EPIPE") finish(true);
      else if (!settled) {
        settled = true;
        clearTimeout(timer);
        reject(error);
      }
    });
    socket.on("close", () => finish(true));
  });
}

export const NORMAL_GET = Buffer.from("GET /after HTTP/1.1\r\nHost: localhost\r\n\r\n", "latin1");

/** Signs of internal detail that must never reach a client. */
export const LEAK_PATTERNS = [/\bat .+:\d+:\d+/, /\/(work|home|usr|src|dist)\//, /node:internal/];
