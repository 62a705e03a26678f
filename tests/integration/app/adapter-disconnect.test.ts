/**
 * A client that leaves in the middle of a streamed response: the gateway calls the body's
 * close(), and each adapter passes that on to its framework — fromFetch cancels the Response's
 * stream and aborts request.signal; fromExpress ends the response with 'close' on req and res.
 */
import express from "express";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { fromExpress } from "../../../app/express-adapter.js";
import { fromFetch } from "../../../app/fetch-adapter.js";
import { urlMap } from "../../../app/routing.js";
import { validate } from "../../../tsgi/validate.js";
import { startGateway, type RunningGateway } from "../../helpers/gateway.js";

const seen = { cancelled: false, signalAborted: false, expressClosed: false };
let gateway: RunningGateway;

beforeAll(async () => {
  const endlessFetch = fromFetch((request) => {
    request.signal.addEventListener("abort", () => (seen.signalAborted = true));
    let n = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        await new Promise((resolve) => setTimeout(resolve, 2));
        // (Using the request here keeps it alive, as any handler that watches its signal does.)
        controller.enqueue(new TextEncoder().encode(`line ${n++} of ${request.url}\n`));
      },
      cancel() {
        seen.cancelled = true;
      },
    });
    return new Response(body, { headers: { "Content-Type": "text/plain" } });
  });
  const endlessExpress = express();
  endlessExpress.get("/", (req, res) => {
    res.type("text/plain");
    const timer = setInterval(() => res.write("tick\n"), 2);
    res.on("close", () => {
      clearInterval(timer);
      seen.expressClosed = true;
    });
  });
  gateway = await startGateway(
    validate(
      urlMap({
        "/fetch": validate(endlessFetch),
        "/express": validate(fromExpress(endlessExpress)),
      }),
    ),
  );
});

afterAll(() => gateway.close());

async function readSomeThenLeave(path: string): Promise<void> {
  const controller = new AbortController();
  const response = await fetch(gateway.url + path, { signal: controller.signal });
  const reader = response.body!.getReader();
  expect((await reader.read()).done).toBe(false);
  controller.abort();
  await reader.closed.catch(() => undefined);
}

it("fromFetch: cancels the Response body and aborts request.signal", async () => {
  await readSomeThenLeave("/fetch");
  await vi.waitFor(() => expect(seen).toMatchObject({ cancelled: true, signalAborted: true }), {
    timeout: 5000,
  });
});

it("fromExpress: closes Express's response", async () => {
  await readSomeThenLeave("/express");
  await vi.waitFor(() => expect(seen.expressClosed).toBe(true), { timeout: 5000 });
});
