/** The gateway's own short answers (400, 413, 431, 500…): plain text, never a stack trace. */
import type { ServerResponse } from "node:http";
import { SERVER_HEADER } from "./version.js";

export function sendPlainResponse(
  response: ServerResponse,
  code: number,
  message: string,
  { close = true }: { close?: boolean } = {},
): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const body = Buffer.from(message + "\n", "latin1");
  if (close) response.shouldKeepAlive = false;
  response.writeHead(code, undefined, [
    "Content-Type",
    "text/plain; charset=utf-8",
    "Content-Length",
    String(body.length),
    "Server",
    SERVER_HEADER,
  ]);
  response.end(body);
}
