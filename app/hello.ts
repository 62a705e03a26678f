/**
 * The teeny hello app: the smallest complete TSGI application.
 *
 * It is a plain function. The server calls it with the request (`environ`) and a callback
 * (`startResponse`); it says "200 OK" with its headers, and returns the body as a list of
 * byte chunks. It knows nothing about sockets, HTTP parsing or processes — that is the
 * server's job — so any TSGI server can run it.
 */
import type { Application } from "@foobar/tsgi";

const body = new TextEncoder().encode("Hello, World!");

export const hello: Application = (_environ, startResponse) => {
  startResponse("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
  return [body];
};

export default hello;
