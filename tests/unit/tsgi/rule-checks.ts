/**
 * Counting how often tsgi/rules.ts checks a status or a header, for the tests of the engine's
 * memory of checked values. Each test file that imports this declares, at its top, the mock
 * that counts (vi.mock is hoisted and belongs to that file; each file gets its own module
 * instances, so its engine's memory starts empty):
 *
 *   vi.mock("../../../tsgi/rules.js", async (importOriginal) => {
 *     const original = await importOriginal<typeof rules>();
 *     return {
 *       ...original,
 *       checkStatus: vi.fn((status: unknown) => original.checkStatus(status)),
 *       checkHeader: vi.fn((header: unknown) => original.checkHeader(header)),
 *     };
 *   });
 */
import { vi } from "vitest";
import * as rules from "../../../tsgi/rules.js";
import type { Application, HeaderList, Status } from "../../../tsgi/types.js";
import { callApp } from "../../../tsgi/testing.js";

export const statusChecks = vi.mocked(rules.checkStatus);
export const headerChecks = vi.mocked(rules.checkHeader);

/** An app answering `status` with `headers` and an empty body. */
export const answering =
  (status: string, headers: HeaderList = []): Application =>
  (_e, start) => {
    start(status as Status, headers);
    return [];
  };

/** Serves `app` `times` times; how many times rules.ts checked a status and a header. */
export async function checksFor(app: Application, times = 3): Promise<[number, number]> {
  statusChecks.mockClear();
  headerChecks.mockClear();
  for (let i = 0; i < times; i++) await callApp(app).catch(() => undefined);
  return [statusChecks.mock.calls.length, headerChecks.mock.calls.length];
}
