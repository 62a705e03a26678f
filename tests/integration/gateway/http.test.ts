/**
 * The gateway over real loopback sockets, seen by real HTTP clients (node:http, fetch, raw
 * bytes). Every app here is wrapped in validate(), so each exchange also checks the contract
 * from both sides.
 */
import { createHash } from "node:crypto";
import { request } from "node:http";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Application, InputStream } from "../../../tsgi/types.js";
import { validate } from "../../../tsgi/validate.js";
import { hello } from "../../../app/hello.js";
import {
  parseResponse,
  startGateway,
  waitFor,
  type RunningGateway,
} from "../../helpers/gateway.js";

const text = (chunk: Uint8Array) => Buffer.from(chunk).toString("latin1");
const MB = 1024 * 1024;
const BLOCK = 64 * 1024;

/** Deterministic 10 MB: block i is filled with i % 251, so a lost or reordered block shows. */
function block(i: number): Buffer {
  return Buffer.alloc(BLOCK, i % 251);
}
const BLOCKS = (10 * MB) / BLOCK;
function expectedDigest(): string {
  const hash = createHash("sha256");
  for (let i = 0; i < BLOCKS; i++) hash.update(block(i));
  return hash.digest("hex");
}

/** Reads the request body one way, chosen by the path, and answers with what it read (JSON). */
const reader: Application = async (environ, start) => {
  const input: InputStream = environ["tsgi.input"];
  let result: unknown;
  switch (environ.PATH_INFO) {
    case "/read":
      result = text(await input.read());
      break;
    case "/read-n":
      result = [text(await input.read(3)), text(await input.read(3)), text(await input.read())];
      break;
    case "/readline":
      result = [
        text(await input.readline()),
        text(await input.readline(2)),
        text(await input.readline()),
      ];
      break;
    case "/readlines":
      result = (await input.readlines()).map(text);
      break;
    case "/iterate": {
      const parts: string[] = [];
      for await (const chunk of input) parts.push(text(chunk));
      result = parts.join("");
      break;
    }
    case "/hash": {
      const hash = createHash("sha256");
      let length = 0;
      for await (const chunk of input) {
        hash.update(chunk);
        length += chunk.length;
      }
      result = { length, sha256: hash.digest("hex") };
      break;
    }
    default:
      result = null;
  }
  start("200 OK", [["Content-Type", "application/json"]]);
  return [Buffer.from(JSON.stringify(result))];
};

describe("the hello app, validated, over HTTP", () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway(validate(hello));
  });
  afterAll(() => gateway.close());

  it("GET with fetch", async () => {
    const response = await fetch(`${gateway.url}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await response.text()).toBe("Hello, World!");
  });

  it("HEAD (curl -I): the headers, and no body", async () => {
    const { statusCode, headers, body } = await new Promise<{
      statusCode: number | undefined;
      headers: Record<string, unknown>;
      body: Buffer;
    }>((resolve, reject) => {
      const head = request(`${gateway.url}/`, { method: "HEAD" }, (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({
            statusCode: response.statusCode,
            headers: response.headers,
            body: Buffer.concat(chunks),
          }),
        );
      });
      head.on("error", reject);
      head.end();
    });
    expect(statusCode).toBe(200);
    expect(headers["content-length"]).toBe("13");
    expect(headers["content-type"]).toBe("text/plain; charset=utf-8");
    expect(headers.server).toMatch(/^foobar/);
    expect(body.length).toBe(0);
    expect(gateway.log.text).not.toContain("ERROR");
  });
});

describe("tsgi.errors", () => {
  it("what the app writes lands in the gateway's error log, unchanged", async () => {
    const gateway = await startGateway(
      validate((environ, start) => {
        environ["tsgi.errors"].write("app diagnostic: caf\u00e9\n");
        environ["tsgi.errors"].writelines(["line one\n", "line two\n"]);
        environ["tsgi.errors"].flush();
        start("204 No Content", []);
        return [];
      }),
    );
    try {
      expect((await fetch(`${gateway.url}/`)).status).toBe(204);
      expect(gateway.log.text).toContain("app diagnostic: caf\u00e9\nline one\nline two\n");
    } finally {
      await gateway.close();
    }
  });
});

describe("reading the request body through tsgi.input", () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway(validate(reader));
  });
  afterAll(() => gateway.close());

  const post = async (path: string, body: string | Uint8Array) => {
    const response = await fetch(`${gateway.url}${path}`, { method: "POST", body });
    expect(response.status).toBe(200);
    return (await response.json()) as unknown;
  };

  it("read()", async () => expect(await post("/read", "all of it")).toBe("all of it"));
  it("read(n) until the end", async () =>
    expect(await post("/read-n", "abcdefgh")).toEqual(["abc", "def", "gh"]));
  it("readline() and readline(size)", async () =>
    expect(await post("/readline", "one\ntwo\nthree")).toEqual(["one\n", "tw", "o\n"]));
  it("readlines()", async () =>
    expect(await post("/readlines", "a\nb\n\nc")).toEqual(["a\n", "b\n", "\n", "c"]));
  it("for await", async () => expect(await post("/iterate", "streamed")).toBe("streamed"));

  it("a chunked request body arrives de-chunked", async () => {
    const raw = await new Promise<Buffer>((resolve, reject) => {
      const socket = connect(gateway.port, "127.0.0.1");
      const chunks: Buffer[] = [];
      socket.on("data", (chunk: Buffer) => chunks.push(chunk));
      socket.on("close", () => resolve(Buffer.concat(chunks)));
      socket.on("error", reject);
      socket.write(
        "POST /read HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
          "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
      );
    });
    expect(JSON.parse(parseResponse(raw).body.toString())).toBe("hello world");
  });

  it("a 10 MB streamed request body arrives whole", async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const upload = request(`${gateway.url}/hash`, { method: "POST" }, (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (body += chunk));
        response.on("end", () => resolve(body));
      });
      upload.on("error", reject);
      // Stream it block by block, honouring back-pressure: never 10 MB in memory at once.
      let i = 0;
      const writeMore = () => {
        while (i < BLOCKS) {
          if (!upload.write(block(i++))) {
            upload.once("drain", writeMore);
            return;
          }
        }
        upload.end();
      };
      writeMore();
    });
    expect(JSON.parse(answer)).toEqual({ length: 10 * MB, sha256: expectedDigest() });
  });
});

describe("Expect: 100-continue", () => {
  /** Sends only the headers, then reports what arrived before `release()` let the app go on. */
  async function expectContinue(readsBody: boolean) {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    let appWaiting = false;
    const app: Application = async (environ, start) => {
      appWaiting = true;
      await gate;
      const body = readsBody ? text(await environ["tsgi.input"].read()) : "not read";
      start("200 OK", [["Content-Type", "text/plain"]]);
      return [Buffer.from(body)];
    };
    const gateway = await startGateway(validate(app));
    const socket = connect(gateway.port, "127.0.0.1");
    try {
      let received = Buffer.alloc(0);
      socket.on("data", (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
      const closed = new Promise((resolve) => socket.on("close", resolve));
      socket.write(
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
      );
      await waitFor(() => appWaiting);
      // The app has the request but has not read: nothing may have been sent, not even a 100.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const beforeRead = received.toString("latin1");
      release();
      if (readsBody) {
        await waitFor(() => received.includes("100 Continue"));
        socket.write("hello");
      }
      await closed;
      return { beforeRead, all: received.toString("latin1") };
    } finally {
      socket.destroy();
      await gateway.close();
    }
  }

  it("is answered when the app first reads tsgi.input, not before", async () => {
    const { beforeRead, all } = await expectContinue(true);
    expect(beforeRead).toBe("");
    expect(all).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    expect(all.endsWith("\r\n\r\nhello")).toBe(true);
  });

  it("is never sent when the app answers without reading", async () => {
    const { beforeRead, all } = await expectContinue(false);
    expect(beforeRead).toBe("");
    expect(all).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(all).not.toContain("100 Continue");
    expect(all.endsWith("not read")).toBe(true);
  });
});

describe("a 10 MB streamed response body", () => {
  it("arrives whole, in order", async () => {
    let produced = 0;
    const stream: Application = (_environ, start) => {
      start("200 OK", [["Content-Type", "application/octet-stream"]]);
      return (async function* () {
        for (let i = 0; i < BLOCKS; i++) {
          produced++;
          yield block(i);
        }
      })();
    };
    const gateway = await startGateway(validate(stream));
    try {
      const response = await fetch(`${gateway.url}/big`);
      expect(response.headers.get("transfer-encoding")).toBe("chunked");
      const hash = createHash("sha256");
      let length = 0;
      for await (const chunk of response.body!) {
        hash.update(chunk);
        length += chunk.length;
      }
      expect(length).toBe(10 * MB);
      expect(hash.digest("hex")).toBe(expectedDigest());
      expect(produced).toBe(BLOCKS);
    } finally {
      await gateway.close();
    }
  });
});
