/**
 * tsgi/response-engine.ts on its own, without validate() in front: the engine is the server
 * side of the contract for the gateway, the test client and toFetch, so it must catch what a
 * bare app gets wrong, with a message that says what it saw. Run through the test client
 * (callApp), whose output is the engine's with an in-memory socket.
 */
import { describe, expect, it } from "vitest";
import type {
  Application,
  Environ,
  HeaderList,
  ResponseBody,
  StartResponse,
  Status,
} from "../../../tsgi/types.js";
import { callApp } from "../../../tsgi/testing.js";
import { ContractViolation } from "../../../tsgi/response-engine.js";
import { TsgiViolation } from "../../../tsgi/validate.js";

const bytes = (text: string) => new TextEncoder().encode(text);
const OK: [Status, HeaderList] = ["200 OK", [["Content-Type", "text/plain"]]];

/** The violation `app` is refused for, as the test client rethrows it. */
async function violationOf(app: Application): Promise<TsgiViolation> {
  const error: unknown = await callApp(app).then(
    () => new Error("expected a violation, but the app was served"),
    (failure: unknown) => failure,
  );
  if (!(error instanceof TsgiViolation)) throw error;
  return error;
}

/** The detail of a violation's message: what comes before the PEP 3333 quote. */
const detailOf = (error: TsgiViolation) => error.message.split(" — PEP 3333")[0];

describe("the engine refuses what a bare app returns wrongly", () => {
  const cases: [string, unknown, string][] = [
    [
      "null",
      null,
      "app.return-not-iterable: app returned null; it must return an iterable of Uint8Array chunks (e.g. [bytes])",
    ],
    [
      "undefined",
      undefined,
      "app.return-not-iterable: app returned undefined; it must return an iterable of Uint8Array chunks (e.g. [bytes])",
    ],
    [
      "a string",
      "Hello",
      "app.return-string: app returned a string; it must return an iterable of Uint8Array chunks (e.g. [bytes])",
    ],
    [
      "bare bytes",
      bytes("Hello"),
      "app.return-bytes: app returned a bare Uint8Array; return a list of chunks: [bytes]",
    ],
    [
      "a number",
      5,
      "app.return-not-iterable: app returned number that is not iterable; return [bytes]",
    ],
  ];
  for (const [name, body, message] of cases)
    it(name, async () => {
      const error = await violationOf((_e, start) => {
        start(...OK);
        return body as ResponseBody;
      });
      expect(detailOf(error)).toBe(message);
    });

  it("a null or number chunk, a long string chunk (quoted up to 20 characters)", async () => {
    const yielding = (chunk: unknown): Application =>
      function* (_e: Environ, start: StartResponse) {
        start(...OK);
        yield chunk as Uint8Array;
      } as unknown as Application;
    expect(detailOf(await violationOf(yielding(null)))).toBe(
      "body.chunk-not-bytes: body yielded null; chunks must be Uint8Array",
    );
    expect(detailOf(await violationOf(yielding(5)))).toBe(
      "body.chunk-not-bytes: body yielded number; chunks must be Uint8Array",
    );
    expect(detailOf(await violationOf(yielding("abcdefghijklmnopqrstuvwxyz")))).toBe(
      'body.chunk-not-bytes: body yielded a string ("abcdefghijklmnopqrst"); encode it to a Uint8Array',
    );
  });

  it("write() of a string", async () => {
    const error = await violationOf((_e, start) => {
      void start(...OK)("text" as unknown as Uint8Array);
      return [];
    });
    expect(detailOf(error)).toBe(
      'write.not-bytes: write() got a string ("text"); encode it to a Uint8Array',
    );
  });

  it("a streamed body that ends without start_response()", async () => {
    const error = await violationOf(async function* () {} as unknown as Application);
    expect(detailOf(error)).toBe(
      "app.start-response-not-called: the body ended and start_response() was never called",
    );
  });

  it("a second start_response() with a null excInfo (null is no excInfo)", async () => {
    const error = await violationOf((_e, start) => {
      start(...OK);
      start("404 Not Found", [], null);
      return [];
    });
    expect(error.rule).toBe("start_response.second-call-without-exc-info");
  });

  it("names its error ContractViolation (as the gateway's log shows it)", () => {
    const violation = new ContractViolation("write.not-bytes", "detail");
    expect([violation.name, violation.rule, violation.message]).toEqual([
      "ContractViolation",
      "write.not-bytes",
      "detail",
    ]);
  });
});

describe("a streamed body and its Content-Length", () => {
  it("exactly the declared length: sent whole, nothing logged", async () => {
    const response = await callApp(function* (_e: Environ, start: StartResponse) {
      start("200 OK", [["Content-Length", "6"]]);
      yield bytes("abc");
      yield bytes("def");
    } as unknown as Application);
    expect([response.text, response.errors]).toEqual(["abcdef", ""]);
  });

  it("more than declared: cut at the length, logged, and the generator is stopped (its finally runs)", async () => {
    let stopped = false;
    const response = await callApp(
      function* (_e: Environ, start: StartResponse) {
        try {
          start("200 OK", [["Content-Length", "4"]]);
          yield bytes("abc");
          yield bytes("def");
          yield bytes("never asked for");
        } finally {
          stopped = true;
        }
      } as unknown as Application,
      { path: "/long" },
    );
    expect(response.text).toBe("abcd");
    expect(response.errors).toBe(
      "GET /long: app sent more than its Content-Length (4); the excess was cut\n",
    );
    expect(stopped).toBe(true);
  });

  it("an array body past its Content-Length: cut, and logged once", async () => {
    const response = await callApp((_e, start) => {
      start("200 OK", [["Content-Length", "4"]]);
      return [bytes("abc"), bytes("def"), bytes("ghi")];
    });
    expect(response.text).toBe("abcd");
    expect(response.errors).toBe(
      "GET /: app sent more than its Content-Length (4); the excess was cut\n",
    );
  });

  it("a Content-Length of 0 lets no byte through, streamed or in an array", async () => {
    const streamed = await callApp(function* (_e: Environ, start: StartResponse) {
      start("200 OK", [["Content-Length", "0"]]);
      yield bytes("abc");
    } as unknown as Application);
    const array = await callApp((_e, start) => {
      start("200 OK", [["Content-Length", "0"]]);
      return [bytes("abc")];
    });
    for (const response of [streamed, array]) {
      expect(response.text).toBe("");
      expect(response.errors).toContain("app sent more than its Content-Length (0)");
    }
  });
});

describe("the body's close() failing is the app's failure", () => {
  it("a close() that throws", async () => {
    const failure = new Error("close failed");
    const app: Application = (_e, start) => {
      start(...OK);
      return Object.assign([bytes("x")], {
        close() {
          throw failure;
        },
      });
    };
    await expect(callApp(app)).rejects.toBe(failure);
  });

  it("an async close() that rejects", async () => {
    const failure = new Error("async close failed");
    const app: Application = (_e, start) => {
      start(...OK);
      return Object.assign([bytes("x")], { close: () => Promise.reject(failure) });
    };
    await expect(callApp(app)).rejects.toBe(failure);
  });
});
