/**
 * Property-based tests (fast-check) of environ building and header handling, end to end: raw
 * bytes over a socket → Node's parser → the request guard → buildEnviron → the app. Whatever
 * the path, query or header value, it either round-trips as PEP 3333 says (native strings: one
 * code unit per byte) or the request is refused with a 400. fast-check prints the seed and the
 * shrunk counter-example of any failure; FC_SEED replays one.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unquoteToNative } from "../../tsgi/rules.js";
import type { Application } from "../../tsgi/types.js";
import { startGateway, type RunningGateway } from "../helpers/gateway.js";
import { exchange } from "../hostile/raw-http.js";

const seed = process.env.FC_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.FC_SEED);
const RUNS = 150;
console.log(`fast-check seed: ${seed} (replay with FC_SEED=${seed})`);

/** Answers with the environ's CGI and HTTP_ values as JSON (JSON keeps every code unit). */
// Everything but the tsgi.* and gateway.* extensions: the CGI and HTTP_ variables.
const environEcho: Application = (environ, startResponse) => {
  const picked: Record<string, string> = {};
  for (const [key, value] of Object.entries(environ))
    if (typeof value === "string" && !/^(tsgi|gateway)\./.test(key)) picked[key] = value;
  startResponse("200 OK", [["Content-Type", "application/json"]]);
  return [Buffer.from(JSON.stringify(picked))];
};

let gateway: RunningGateway;
beforeAll(async () => {
  gateway = await startGateway(environEcho);
});
afterAll(() => gateway.close());

async function send(head: Buffer): Promise<{ status: number; environ: Record<string, string> }> {
  const result = await exchange(gateway.port, head, { expected: 1, waitForClose: false });
  const response = result.responses[0];
  if (response === undefined) throw new Error("no response");
  const environ =
    response.status === 200 ? (JSON.parse(response.body.toString()) as Record<string, string>) : {};
  return { status: response.status, environ };
}

const latin1 = (bytes: number[]) => String.fromCharCode(...bytes);
const hex = (byte: number, upper: boolean) => {
  const digits = byte.toString(16).padStart(2, "0");
  return "%" + (upper ? digits.toUpperCase() : digits);
};
const UNRESERVED = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]$/;

/** A path as bytes plus one way of writing it in a request-target. */
const encodedPath = fc
  .array(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.boolean(), fc.boolean()), {
    maxLength: 40,
  })
  .map((parts) => ({
    bytes: parts.map(([byte]) => byte),
    target:
      "/" +
      parts
        .map(([byte, raw, upper]) => {
          const char = String.fromCharCode(byte);
          return raw && (UNRESERVED.test(char) || char === "/") ? char : hex(byte, upper);
        })
        .join(""),
  }));

/** A query string as sent: visible ASCII but '#', with %XX mixed in. */
const rawQuery = fc
  .array(
    fc.oneof(
      fc
        .integer({ min: 0x21, max: 0x7e })
        .filter((code) => code !== 0x23)
        .map((code) => String.fromCharCode(code)),
      fc
        .tuple(fc.integer({ min: 0, max: 255 }), fc.boolean())
        .map(([byte, upper]) => hex(byte, upper)),
    ),
    { maxLength: 40 },
  )
  .map((parts) => parts.join(""));

describe("paths and query strings", () => {
  it("unquoteToNative decodes percent-escapes to one code unit per byte", () => {
    fc.assert(
      fc.property(encodedPath, ({ bytes, target }) => {
        expect(unquoteToNative(target)).toBe("/" + latin1(bytes));
      }),
      { seed, numRuns: 1000 },
    );
  });

  it("PATH_INFO is the decoded path as Latin-1; QUERY_STRING is the query exactly as sent", async () => {
    await fc.assert(
      fc.asyncProperty(encodedPath, rawQuery, async ({ bytes, target }, query) => {
        const head = `GET ${target}?${query} HTTP/1.1\r\nHost: x\r\n\r\n`;
        const { status, environ } = await send(Buffer.from(head, "latin1"));
        expect(status).toBe(200);
        expect(environ.PATH_INFO).toBe("/" + latin1(bytes));
        expect(environ.QUERY_STRING).toBe(query);
        expect(environ.SCRIPT_NAME).toBe("");
      }),
      { seed, numRuns: RUNS },
    );
  });

  it("any raw bytes in the target: a faithful round-trip or a 400", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 30 }), async (raw) => {
        const target = "/" + Buffer.from(raw).toString("latin1");
        const head = Buffer.concat([
          Buffer.from("GET ", "latin1"),
          Buffer.from(target, "latin1"),
          Buffer.from(" HTTP/1.1\r\nHost: x\r\n\r\n", "latin1"),
        ]);
        const { status, environ } = await send(head);
        if (status !== 200) {
          expect(status).toBe(400);
          return;
        }
        // RFC 9112 §3 lets a server split the request line on runs of whitespace: a target that
        // ends in spaces ("GET /  HTTP/1.1") is the word before them. Any other space must be a 400.
        const word = / +$/.test(target) ? target.replace(/ +$/, "") : target;
        const cut = word.search(/[?#]/);
        const path = cut === -1 ? word : word.slice(0, cut);
        expect(environ.PATH_INFO).toBe(unquoteToNative(path));
      }),
      { seed, numRuns: RUNS },
    );
  });
});

const FIELD_VCHAR = (byte: number) => byte === 0x09 || (byte >= 0x20 && byte !== 0x7f);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

describe("header values and names", () => {
  it("a value round-trips (trimmed of SP/HTAB) when it is valid, and is a 400 when it is not", async () => {
    const value = fc
      .uint8Array({ maxLength: 40 })
      .map((bytes) => Buffer.from(bytes).toString("latin1"))
      .filter((text) => !text.includes("\r\n")); // CRLF would just start another field
    await fc.assert(
      fc.asyncProperty(value, async (text) => {
        const head = `GET / HTTP/1.1\r\nHost: x\r\nX-Test: ${text}\r\n\r\n`;
        const { status, environ } = await send(Buffer.from(head, "latin1"));
        const bytes = [...Buffer.from(text, "latin1")];
        if (bytes.every(FIELD_VCHAR)) {
          expect(status).toBe(200);
          expect(environ.HTTP_X_TEST).toBe(text.replace(/^[ \t]+|[ \t]+$/g, ""));
        } else expect(status).toBe(400);
      }),
      { seed, numRuns: RUNS },
    );
  });

  it("a token name maps to HTTP_NAME (dashes to underscores; names with _ are dropped); others are 400", async () => {
    const name = fc.string({
      unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
      minLength: 1,
      maxLength: 20,
    });
    const reserved =
      /^(host|content-length|content-type|transfer-encoding|expect|connection|upgrade|te|trailer|keep-alive)$/i;
    await fc.assert(
      fc.asyncProperty(
        name.filter((text) => !reserved.test(text) && !text.includes(":")),
        async (text) => {
          const head = `GET / HTTP/1.1\r\nHost: x\r\n${text}: v\r\n\r\n`;
          const { status, environ } = await send(Buffer.from(head, "latin1"));
          if (!TOKEN.test(text)) {
            expect(status).toBe(400);
            return;
          }
          expect(status).toBe(200);
          const key = "HTTP_" + text.toUpperCase().replaceAll("-", "_");
          if (text.includes("_")) expect(Object.values(environ)).not.toContain("v");
          else expect(environ[key]).toBe("v");
        },
      ),
      { seed, numRuns: RUNS },
    );
  });

  it("repeated fields are joined with ', ' in order", async () => {
    const values = fc.array(fc.stringMatching(/^[a-z0-9]{1,8}$/), { minLength: 1, maxLength: 6 });
    await fc.assert(
      fc.asyncProperty(values, async (list) => {
        const fields = list.map((item) => `X-Many: ${item}\r\n`).join("");
        const { status, environ } = await send(
          Buffer.from(`GET / HTTP/1.1\r\nHost: x\r\n${fields}\r\n`),
        );
        expect(status).toBe(200);
        expect(environ.HTTP_X_MANY).toBe(list.join(", "));
      }),
      { seed, numRuns: RUNS },
    );
  });
});
