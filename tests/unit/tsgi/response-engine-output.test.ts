/**
 * The engine's side of its contract with an output (tsgi/response-engine.ts): what it asks of
 * the output, in which order, and what it does when the client leaves between two given steps
 * or the output itself fails. The gateway's ServerResponse cannot be stopped between two steps,
 * and the test client's memory has no client to lose, so these tests use a recording output
 * whose client leaves when a test says so.
 */
import { describe, expect, it } from "vitest";
import type {
  Application,
  Environ,
  ResponseBody,
  StartResponse,
  Status,
} from "../../../tsgi/types.js";
import { makeEnviron } from "../../../tsgi/testing.js";
import { ResponseEngine } from "../../../tsgi/response-engine.js";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (chunk: Uint8Array) => new TextDecoder().decode(chunk);
const OK: Status = "200 OK";

/** An output that records every call the engine makes, with a client a test can send away. */
class RecordingOutput extends ResponseEngine {
  /** The engine's calls, in order: `head 5 complete`, `chunk abc`, `end`, `end abc`, `cut off`, `finished`. */
  readonly calls: string[] = [];
  readonly failures: { error: unknown; headersSent: boolean }[] = [];
  readonly logged: string[] = [];
  /** The disconnect listeners the engine has registered and not removed yet. */
  readonly watchers = new Set<() => void>();
  /** What sendChunk answers: undefined (room for more), or a wait for drain. */
  full: Promise<void> | undefined;
  /** Makes sendHead throw, as a broken output would. */
  headFails = false;
  #gone = false;

  /** The client disconnects: from now on clientGone is true, and the watchers are told. */
  leave(): void {
    this.#gone = true;
    for (const listener of [...this.watchers]) listener();
  }

  protected override get clientGone(): boolean {
    return this.#gone;
  }
  protected override watchClient(listener: () => void): void {
    this.watchers.add(listener);
  }
  protected override unwatchClient(listener: () => void): void {
    this.watchers.delete(listener);
  }
  protected sendHead(contentLength: number, complete: boolean): void {
    if (this.headFails) throw new Error("the output broke");
    this.calls.push(`head ${contentLength}${complete ? " complete" : ""}`);
  }
  protected sendChunk(chunk: Uint8Array): Promise<void> | undefined {
    this.calls.push(`chunk ${text(chunk)}`);
    return this.full;
  }
  protected endOutput(last?: Uint8Array): void {
    this.calls.push(last === undefined ? "end" : `end ${text(last)}`);
  }
  protected cutOff(): void {
    this.calls.push("cut off");
  }
  protected reportFailure(error: unknown, headersSent: boolean): void {
    this.failures.push({ error, headersSent });
  }
  protected logError(message: string): void {
    this.logged.push(message);
  }
  protected override onFinished(): void {
    this.calls.push("finished");
  }
}

/** Runs `app` on `output` (a fresh one by default); returns it at once (the app may go on). */
function serve(app: Application, output = new RecordingOutput()): RecordingOutput {
  output.run(app, makeEnviron());
  return output;
}

/** A promise and its resolve, for a step a test releases. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Lets pending promise callbacks (the engine's awaits) run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A body that counts its close() calls. */
function closing<T extends object>(body: T): T & { close(): void; closes: number } {
  return Object.assign(body, {
    closes: 0,
    close() {
      this.closes++;
    },
  });
}

describe("the client leaves between two steps", () => {
  it("excInfo after the exchange finished is rethrown; the response is not replaced", () => {
    const failure = new Error("late failure");
    let thrown: unknown;
    const output = new RecordingOutput();
    serve((_e, start) => {
      const write = start(OK, []);
      write(bytes("a"));
      output.leave();
      write(bytes("b")); // finds the client gone: the exchange finishes
      try {
        start("500 Internal Server Error", [], failure);
      } catch (error) {
        thrown = error;
      }
      return [];
    }, output);
    expect(thrown).toBe(failure);
    expect([output.status, output.phase]).toEqual([OK, "finished"]);
  });

  it("write() after the exchange finished sends nothing, and the exchange stays finished", () => {
    let written: unknown = "not called";
    const output = new RecordingOutput();
    serve((_e, start) => {
      const write = start(OK, []);
      write(bytes("a"));
      output.leave();
      write(bytes("b"));
      written = write(bytes("c"));
      return [];
    }, output);
    expect(written).toBeUndefined();
    expect(output.calls).toEqual(["head -1", "chunk a", "finished"]);
    expect(output.phase).toBe("finished");
  });

  it("a body returned after the client left (seen by write()) is closed at once, once", () => {
    const body = closing([bytes("never sent")]);
    const output = new RecordingOutput();
    serve((_e, start) => {
      const write = start(OK, []);
      write(bytes("a"));
      output.leave();
      write(bytes("b"));
      return body;
    }, output);
    expect(body.closes).toBe(1);
    expect(output.calls).toEqual(["head -1", "chunk a", "finished"]);
  });

  it("a streamed body returned after the client left is closed without being started", () => {
    let started = false;
    const body = closing(
      (function* () {
        started = true;
        yield bytes("never sent");
      })(),
    );
    const output = new RecordingOutput();
    serve((_e, start) => {
      start(OK, []);
      output.leave(); // nothing was sent yet, so nothing noticed
      return body;
    }, output);
    expect(output.calls).toEqual(["finished"]);
    expect([started, body.closes]).toEqual([false, 1]);
  });

  it("an array body's last chunk is not sent once the client has left", () => {
    const output = new RecordingOutput();
    serve((_e, start) => {
      start(OK, []);
      output.leave();
      return [bytes("never sent")];
    }, output);
    expect(output.calls).toEqual(["head 10 complete", "finished"]);
    expect(output.bytes).toBe(0);
  });

  it("leaving while the app computes its next chunk finishes the exchange at once", async () => {
    const next = gate();
    let stopped = false;
    const body = closing(
      (async function* () {
        try {
          yield bytes("a");
          await next.promise; // a slow app: e.g. waiting for an event to push
          yield bytes("never sent");
        } finally {
          stopped = true;
        }
      })(),
    );
    const output = serve((_e, start) => {
      start(OK, []);
      return body;
    });
    await settle();
    expect(output.calls).toEqual(["head -1", "chunk a"]);
    output.leave();
    // Told at once, not when the app's next chunk comes: its close() runs now.
    expect(output.calls).toEqual(["head -1", "chunk a", "finished"]);
    expect(body.closes).toBe(1);
    next.open();
    await settle();
    expect(stopped).toBe(true);
    expect(output.calls).toEqual(["head -1", "chunk a", "finished"]);
    expect(output.watchers.size).toBe(0);
  });

  it("a streamed body's disconnect watch is removed when it ends", async () => {
    const output = serve(function* (_e: Environ, start: StartResponse) {
      start(OK, []);
      yield bytes("a");
    } as unknown as Application);
    await settle();
    expect(output.calls).toEqual(["head -1", "chunk a", "end", "finished"]);
    expect(output.watchers.size).toBe(0);
  });
});

describe("back-pressure: a full output is waited for", () => {
  it("an array body's next chunk waits for the drain of the one before", async () => {
    const drain = gate();
    const output = new RecordingOutput();
    output.full = drain.promise;
    output.run((_e, start) => {
      start(OK, []);
      return [bytes("a"), bytes("b"), bytes("c")];
    }, makeEnviron());
    await settle();
    expect(output.calls).toEqual(["head 3 complete", "chunk a"]);
    output.full = undefined;
    drain.open();
    await settle();
    expect(output.calls).toEqual([
      "head 3 complete",
      "chunk a",
      "chunk b",
      "chunk c",
      "end",
      "finished",
    ]);
  });

  it("an array body on an output with room: sent before run() returns, its last chunk with the end", () => {
    const output = serve((_e, start) => {
      start(OK, []);
      return [bytes("a"), bytes("b")];
    });
    expect(output.calls).toEqual(["head 2 complete", "chunk a", "end b", "finished"]);
  });

  it("a streamed body says its head is not followed by the whole body at once", async () => {
    const output = serve(function* (_e: Environ, start: StartResponse) {
      start(OK, []);
      yield bytes("a");
    } as unknown as Application);
    await settle();
    expect(output.calls[0]).toBe("head -1");
    const empty = serve((_e, start) => {
      start(OK, []);
      return [];
    });
    expect(empty.calls).toEqual(["head 0 complete", "end", "finished"]);
  });
});

describe("what an array body asks of the output", () => {
  it("empty chunks never reach it; the last non-empty chunk comes with the end, in one call", () => {
    const empty = new Uint8Array(0);
    const output = serve((_e, start) => {
      start(OK, []);
      return [empty, bytes("a"), empty, bytes("b"), empty, empty];
    });
    expect(output.calls).toEqual(["head 2 complete", "chunk a", "end b", "finished"]);
  });

  it("a body of exactly its Content-Length: the last chunk comes with the end too", () => {
    const output = serve((_e, start) => {
      start(OK, [["Content-Length", "3"]]);
      return [bytes("ab"), bytes("c")];
    });
    expect(output.calls).toEqual(["head -1 complete", "chunk ab", "end c", "finished"]);
    expect(output.logged).toEqual([]);
  });
});

describe("a Content-Length cut", () => {
  it("counts the bytes that were sent, not the ones cut", async () => {
    const array = serve((_e, start) => {
      start(OK, [["Content-Length", "3"]]);
      return [bytes("abcdef")];
    });
    expect(array.calls).toEqual(["head -1 complete", "end abc", "finished"]);
    expect(array.bytes).toBe(3);
    const streamed = serve(function* (_e: Environ, start: StartResponse) {
      start(OK, [["Content-Length", "3"]]);
      yield bytes("ab");
      yield bytes("cdef");
    } as unknown as Application);
    await settle();
    expect(streamed.calls).toEqual(["head -1", "chunk ab", "end c", "finished"]);
    expect(streamed.bytes).toBe(3);
  });

  it("a second failure after the cut is reported as after the headers, and answered with nothing", async () => {
    const cleanup = new Error("cleanup failed");
    const failCleanup = () => {
      throw cleanup;
    };
    const output = serve(function* (_e: Environ, start: StartResponse) {
      try {
        start(OK, [["Content-Length", "3"]]);
        yield bytes("abcdef");
      } finally {
        failCleanup();
      }
    } as unknown as Application);
    await settle();
    expect(output.calls).toEqual(["head -1", "end abc", "finished"]);
    expect(output.failures).toEqual([{ error: cleanup, headersSent: true }]);
  });
});

describe("failures", () => {
  it("a body that fails mid-stream is cut off, so the client sees the response is incomplete", async () => {
    const failure = new Error("mid-stream");
    const output = serve(function* (_e: Environ, start: StartResponse) {
      start(OK, []);
      yield bytes("a");
      throw failure;
    } as unknown as Application);
    await settle();
    expect(output.calls).toEqual(["head -1", "chunk a", "cut off", "finished"]);
    expect(output.failures).toEqual([{ error: failure, headersSent: true }]);
  });

  it("an output that fails while sending the 500 is cut off, and the exchange still finishes", () => {
    const failure = new Error("app failed");
    const output = new RecordingOutput();
    output.headFails = true;
    expect(() =>
      output.run(() => {
        throw failure;
      }, makeEnviron()),
    ).not.toThrow();
    expect(output.calls).toEqual(["cut off", "finished"]);
    expect(output.failures).toEqual([{ error: failure, headersSent: false }]);
  });

  it("a close() that throws is reported as a failure after the headers", () => {
    const failure = new Error("close failed");
    const output = serve((_e, start) => {
      start(OK, []);
      return Object.assign([bytes("x")], {
        close() {
          throw failure;
        },
      }) as ResponseBody;
    });
    expect(output.calls).toEqual(["head 1 complete", "end x", "finished"]);
    expect(output.failures).toEqual([{ error: failure, headersSent: true }]);
  });
});
