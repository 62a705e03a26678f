/**
 * For side-by-side tests: ask two servers the same thing and compare what came back — status,
 * headers (repeated ones kept, in order) and body — minus what describes the connection or the
 * server rather than the resource.
 */
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";

/** Headers that describe the connection or the server, not the resource. */
export const PER_SERVER = new Set([
  "date",
  "connection",
  "keep-alive",
  "server",
  "transfer-encoding",
]);

export interface Answer {
  status: number;
  /** `[name, value]` in the order fetch gives them; each Set-Cookie on its own. */
  headers: [string, string][];
  body: string;
}

export async function ask(base: string, path: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(base + path, init);
  const headers: [string, string][] = [];
  response.headers.forEach((value, name) => {
    if (!PER_SERVER.has(name) && name !== "set-cookie") headers.push([name, value]);
  });
  for (const cookie of response.headers.getSetCookie()) headers.push(["set-cookie", cookie]);
  return { status: response.status, headers, body: await response.text() };
}

/** `http://127.0.0.1:PORT` of a listening node:http server. */
export function baseUrl(server: Server): string {
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Closes a node:http server and every connection it still has. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}
