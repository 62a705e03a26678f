/**
 * A request body the app never reads. The gateway still reads it — it must find where the next
 * request on the connection starts — and checks its framing as it goes. What a strict server does
 * when that framing is broken, or the trailers are forbidden, after the app has answered
 * (docs/hardening.md, "A body the app does not read"): the app's answer stands, nothing else is
 * sent (a 400 now would be read as the answer to the client's next request), the connection is
 * closed after the answer, and the refusal is logged.
 */
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Application } from "../../tsgi/types.js";
import { startGateway, type RunningGateway } from "../helpers/gateway.js";
import { exchange, NORMAL_GET, parseResponses } from "./raw-http.js";

const BIG = Buffer.alloc(1024 * 1024, "x");

/** Answers without ever looking at tsgi.input; `/big` answers with 1 MiB. */
const ignoresBody: Application = (environ, startResponse) => {
  const body = environ.PATH_INFO === "/big" ? BIG : Buffer.from("ignored\n");
  startResponse("200 OK", [["Content-Type", "text/plain"]]);
  return [body];
};

let gateway: RunningGateway;
beforeAll(async () => {
  gateway = await startGateway(ignoresBody);
});
afterAll(async () => {
  await gateway.close();
});

function chunkedPost(path: string, chunks: string): Buffer {
  return Buffer.from(
    `POST ${path} HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}`,
    "latin1",
  );
}

async function stillServes(): Promise<void> {
  const after = await exchange(gateway.port, NORMAL_GET, { expected: 1, waitForClose: false });
  expect(after.responses.map((response) => response.status)).toEqual([200]);
}

describe("a body the app never reads", () => {
  it("a valid chunked body is drained, and the connection carries the next request", async () => {
    const bytes = Buffer.concat([chunkedPost("/", "5\r\nhello\r\n0\r\n\r\n"), NORMAL_GET]);
    const result = await exchange(gateway.port, bytes, { expected: 2, waitForClose: false });
    expect(result.responses.map((response) => response.status)).toEqual([200, 200]);
  });

  it.each([
    ["a chunk size that is not hex", "zz\r\nhello\r\n0\r\n\r\n"],
    ["a chunk size with a trailing space", "5 \r\nhello\r\n0\r\n\r\n"],
    ["chunk data longer than its size", "3\r\nhello\r\n0\r\n\r\n"],
    ["a forbidden trailer field (Host)", "5\r\nhello\r\n0\r\nHost: evil.example\r\n\r\n"],
  ])("%s: the answer stands, nothing follows it, the connection closes", async (_what, chunks) => {
    const logged = gateway.log.text.length;
    // A pipelined GET after the broken body: it must not be answered (where it starts is
    // unknown), and no 400 may appear in its place.
    const bytes = Buffer.concat([chunkedPost("/", chunks), NORMAL_GET]);
    const result = await exchange(gateway.port, bytes, { expected: 2, waitForClose: true });
    expect(result.responses.map((response) => response.status)).toEqual([200]);
    expect(result.responses[0]!.body.toString()).toBe("ignored\n");
    expect(result.closed).toBe(true);
    expect(result.garbage.toString("latin1")).toBe("");
    expect(gateway.log.text.slice(logged)).toMatch(
      /\[WARNING\] Invalid request from ip=127\.0\.0\.1: /,
    );
    await stillServes();
  });

  it("a broken chunk that arrives after the answer was sent gets no answer of its own", async () => {
    const socket = connect(gateway.port, "127.0.0.1");
    const received: Buffer[] = [];
    const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
    socket.on("error", () => {});
    socket.on("data", (chunk: Buffer) => received.push(chunk));
    socket.write(chunkedPost("/", "5\r\nhello\r\n"));
    // The app answers at once, before the body ends.
    await new Promise<void>((resolve) => {
      const check = () =>
        parseResponses(Buffer.concat(received), false).responses.length > 0
          ? resolve()
          : setTimeout(check, 10);
      check();
    });
    socket.write("zz\r\nhello\r\n0\r\n\r\n");
    await closed;
    const { responses, rest } = parseResponses(Buffer.concat(received), true);
    expect(responses.map((response) => response.status)).toEqual([200]);
    expect(rest.toString("latin1")).toBe("");
    await stillServes();
  });

  it("a 1 MiB answer is sent whole before the connection closes over the broken body", async () => {
    const result = await exchange(gateway.port, chunkedPost("/big", "zz\r\nhello\r\n0\r\n\r\n"), {
      expected: 1,
      waitForClose: true,
    });
    expect(result.responses.map((response) => response.status)).toEqual([200]);
    expect(result.responses[0]!.body.length).toBe(BIG.length);
    expect(result.closed).toBe(true);
    expect(result.garbage.length).toBe(0);
  });
});
