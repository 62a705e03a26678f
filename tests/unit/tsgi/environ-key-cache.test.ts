/**
 * tsgi/environ.ts `cachedEnvironKey`: the header-name cache's promises, seen through how often
 * the name is converted (rules.ts `environKeyOf`). A name a server keeps seeing is converted
 * once; a hostile client sending ever new names can neither grow the cache (8 names per length,
 * none longer than 64) nor change a key. This file has its own module instance: the cache starts
 * empty.
 */
import { beforeEach, describe, expect, it, vi } from "vitest";
import * as rules from "../../../tsgi/rules.js";
import { cachedEnvironKey } from "../../../tsgi/environ.js";

vi.mock("../../../tsgi/rules.js", async (importOriginal) => {
  const original = await importOriginal<typeof rules>();
  return { ...original, environKeyOf: vi.fn((name: string) => original.environKeyOf(name)) };
});

const converted = vi.mocked(rules.environKeyOf);

/** How many times `name` was converted during `lookups` lookups of it; each gave the right key. */
function conversions(name: string, lookups = 3): number {
  converted.mockClear();
  const keys = Array.from({ length: lookups }, () => cachedEnvironKey(name));
  const count = converted.mock.calls.length;
  expect(keys).toEqual(Array(lookups).fill(converted(name)));
  return count;
}

describe("the header-name cache", () => {
  beforeEach(() => {
    converted.mockClear();
  });

  it("converts a name once, then answers it from memory (a name with no key too)", () => {
    expect(conversions("X-Request-Id")).toBe(1);
    expect(conversions("X_Request_Id")).toBe(1); // null: dropped, and remembered as such
  });

  it("remembers names up to 64 characters; longer ones are converted every time", () => {
    expect(conversions(`X-${"a".repeat(62)}`)).toBe(1);
    expect(conversions(`X-${"b".repeat(63)}`)).toBe(3);
  });

  it("keeps 8 names of one length; the 9th and later are converted every time", () => {
    const names = Array.from({ length: 10 }, (_, i) => `Y-Len-${i}`); // all 7 characters
    names.forEach((name) => cachedEnvironKey(name));
    for (const name of names.slice(0, 8)) expect(conversions(name), name).toBe(0);
    for (const name of names.slice(8)) expect(conversions(name), name).toBe(3);
  });
});
