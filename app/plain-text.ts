/**
 * Short plain-text answers — a 404, a 502, a help text: the one way app/ builds them. The text
 * is encoded once, and the response carries its exact Content-Length.
 */
import type { Application, Status } from "@foobar/tsgi";

/** An application that answers every request with `status` and `text` (UTF-8 plain text). */
export function plainText(status: Status, text: string): Application {
  const body = new TextEncoder().encode(text);
  const length = String(body.length);
  return (_environ, startResponse) => {
    startResponse(status, [
      ["Content-Type", "text/plain; charset=utf-8"],
      ["Content-Length", length],
    ]);
    return [body];
  };
}
