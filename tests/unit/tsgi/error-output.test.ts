/**
 * The response engine's error response goes through its own protocol, as wsgiref's
 * `error_output`: a tiny app whose start_response replaces what the failed app started, sent
 * by the same output calls as any answer. And the exchange's state is read-only outside it.
 */
import { describe, expect, it } from "vitest";
import { ResponseEngine } from "@foobar/tsgi/response-engine";
import { makeEnviron } from "@foobar/tsgi/testing";
import type { Application, Status } from "@foobar/tsgi";

/** An output that records every call the engine makes. */
class RecordingExchange extends ResponseEngine {
  readonly calls: string[] = [];
  readonly failures: unknown[] = [];
  protected sendHead(contentLength: number): void {
    this.calls.push(`head ${this.status} ${JSON.stringify(this.headers)} length=${contentLength}`);
  }
  protected sendChunk(chunk: Uint8Array): undefined {
    this.calls.push(`chunk ${new TextDecoder().decode(chunk)}`);
    return undefined;
  }
  protected endOutput(last?: Uint8Array): void {
    this.calls.push(`end ${last === undefined ? "" : new TextDecoder().decode(last)}`);
  }
  protected cutOff(): void {
    this.calls.push("cut off");
  }
  protected reportFailure(error: unknown, headersSent: boolean): void {
    this.failures.push(error);
    this.calls.push(`failure headersSent=${headersSent}`);
  }
  protected logError(message: string): void {
    this.calls.push(`log ${message}`);
  }
}

class TeapotOnFailure extends RecordingExchange {
  protected override errorResponse(): { status: Status; text: string } {
    return { status: "418 I'm a teapot", text: "short and stout\n" };
  }
}

let closed: string[] = [];
/** Starts a response, then its body fails before yielding anything; its close() is recorded. */
const failing: Application = (_environ, startResponse) => {
  startResponse("200 OK", [["X-App", "yes"]]);
  const body: Iterable<Uint8Array> = {
    [Symbol.iterator]: () => ({
      next: () => {
        throw new Error("broken");
      },
    }),
  };
  return Object.assign(body, { close: () => void closed.push("closed") });
};

describe("the error response", () => {
  it("replaces the app's started response through the same output calls", () => {
    closed = [];
    const exchange = new RecordingExchange();
    exchange.run(failing, makeEnviron());
    return new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      expect(exchange.calls).toEqual([
        "failure headersSent=false",
        `head 500 Internal Server Error [["Content-Type","text/plain; charset=utf-8"]] length=22`,
        "end Internal Server Error\n",
      ]);
      expect(exchange.code).toBe(500);
      expect(exchange.bytes).toBe(22);
      expect(exchange.phase).toBe("finished");
      expect(closed).toEqual(["closed"]); // the failed app's body, once
    });
  });

  it("takes its status and text from errorResponse, which a subclass may answer", () => {
    const exchange = new TeapotOnFailure();
    exchange.run(() => {
      throw new Error("nope");
    }, makeEnviron());
    expect(exchange.calls[1]).toMatch(/^head 418 I'm a teapot .* length=16$/);
    expect(exchange.calls[2]).toBe("end short and stout\n");
  });

  it("cuts the response off instead once its headers are out", async () => {
    const exchange = new RecordingExchange();
    exchange.run((_environ, startResponse) => {
      startResponse("200 OK", []);
      return (async function* () {
        yield new TextEncoder().encode("part");
        throw new Error("late");
      })();
    }, makeEnviron());
    await new Promise((resolve) => setImmediate(resolve));
    expect(exchange.calls.slice(-2)).toEqual(["failure headersSent=true", "cut off"]);
    expect(exchange.code).toBe(200);
  });
});

describe("the exchange's state", () => {
  it("is read-only outside the engine", () => {
    const exchange = new RecordingExchange();
    exchange.run((_environ, startResponse) => {
      startResponse("200 OK", []);
      return [new TextEncoder().encode("ok")];
    }, makeEnviron());
    const outside = exchange as unknown as Record<string, unknown>;
    for (const key of ["phase", "status", "code", "headers", "bytes", "body", "declaredLength"])
      expect(() => (outside[key] = 0), key).toThrow(TypeError);
    expect(exchange.code).toBe(200);
    expect(exchange.bytes).toBe(2);
  });
});
