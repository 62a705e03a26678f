/**
 * tsgi/response-engine.ts remembers at most 1000 statuses and 1000 header values that passed its
 * checks, so an app making up new ones cannot grow the memory without limit: past the bound,
 * each is checked every time (counted through rules.ts). In a file of its own, so the memory
 * starts empty (response-engine-check-cache.test.ts checks what is remembered).
 */
import { describe, expect, it, vi } from "vitest";
import type * as rules from "../../../tsgi/rules.js";
import { callApp } from "../../../tsgi/testing.js";
import { answering, checksFor } from "./rule-checks.js";

vi.mock("../../../tsgi/rules.js", async (importOriginal) => {
  const original = await importOriginal<typeof rules>();
  return {
    ...original,
    checkStatus: vi.fn((status: unknown) => original.checkStatus(status)),
    checkHeader: vi.fn((header: unknown) => original.checkHeader(header)),
  };
});

describe("the engine's memory of checked statuses and headers", () => {
  it("remembers the first 1000 statuses and header values, and checks the next ones every time", async () => {
    for (let i = 0; i < 1001; i++)
      await callApp(answering(`200 Made up ${i}`, [["X-Made-Up", String(i)]]));
    expect(await checksFor(answering("200 Made up 999", [["X-Made-Up", "999"]]))).toEqual([0, 0]);
    expect(await checksFor(answering("200 Made up 1000", [["X-Made-Up", "1000"]]))).toEqual([3, 3]);
  });
});
