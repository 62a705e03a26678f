/**
 * tsgi/response-engine.ts remembers the statuses and header values that passed its checks, so
 * an app sending the same ones on every request is checked once. Its promises, seen through how
 * often rules.ts checks them: a good value is checked once, a bad one every time (it is refused
 * every time). The bound on the memory is checked in response-engine-check-limit.test.ts, which
 * needs a memory that starts empty. This file has its own module instance too.
 */
import { beforeEach, describe, expect, it, vi } from "vitest";
import type * as rules from "../../../tsgi/rules.js";
import type { HeaderList } from "../../../tsgi/types.js";
import { callApp } from "../../../tsgi/testing.js";
import { answering, checksFor, headerChecks, statusChecks } from "./rule-checks.js";

vi.mock("../../../tsgi/rules.js", async (importOriginal) => {
  const original = await importOriginal<typeof rules>();
  return {
    ...original,
    checkStatus: vi.fn((status: unknown) => original.checkStatus(status)),
    checkHeader: vi.fn((header: unknown) => original.checkHeader(header)),
  };
});

describe("the engine's memory of checked statuses and headers", () => {
  beforeEach(() => {
    statusChecks.mockClear();
    headerChecks.mockClear();
  });

  it("checks a good status and header once, then remembers them", async () => {
    expect(await checksFor(answering("203 Remembered", [["X-Kept", "1"]]))).toEqual([1, 1]);
    // Another value of a known name is checked once too.
    expect(await checksFor(answering("203 Remembered", [["X-Kept", "2"]]))).toEqual([0, 1]);
  });

  it("checks a bad status or header every time, and refuses it every time", async () => {
    for (let i = 0; i < 3; i++)
      await expect(callApp(answering("999"))).rejects.toMatchObject({
        rule: "start_response.status-format",
      });
    expect(statusChecks.mock.calls.filter(([status]) => status === "999")).toHaveLength(3);
    for (let i = 0; i < 3; i++)
      await expect(callApp(answering("200 OK", [["X-Bad", "a\nb"]]))).rejects.toMatchObject({
        rule: "start_response.header-control-character",
      });
    expect(
      headerChecks.mock.calls.filter(([header]) => (header as string[])[0] === "X-Bad"),
    ).toHaveLength(3);
  });

  it("a malformed header is checked, not looked up, even when its name is known", async () => {
    await callApp(answering("200 OK", [["X-Known", "v"]]));
    await expect(
      callApp(answering("200 OK", [["X-Known", "v", "extra"]] as unknown as HeaderList)),
    ).rejects.toMatchObject({ rule: "start_response.header-not-pair" });
  });
});
