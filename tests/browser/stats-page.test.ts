/**
 * The arbiter's live page (the metrics listener's `/`) in Debian's headless Chromium: a TTIN
 * makes a new worker box appear, a `kill -9` makes a box vanish and its replacement appear —
 * with no reload of the page (server-sent events). Saves the screenshot the walkthrough shows
 * (docs/images/stats-page.png, rewritten only with UPDATE_SCREENSHOTS=1).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  GatewayProcess,
  get,
  loadLoop,
  metricsPort,
  waitUntil,
} from "../process/gateway-process.js";
import { CHROMIUM, haveChromium, launchChromium, watchPage } from "./chromium.js";
import { ROOT, screenshotPath } from "./stack.js";

const SCREENSHOT = screenshotPath("stats-page.png");

if (!haveChromium && process.env.CI !== "true")
  console.warn(`browser test skipped: ${CHROMIUM} is missing (apt-get install chromium)`);

describe.runIf(haveChromium)("the arbiter's live page in Chromium", () => {
  let server: GatewayProcess;
  let metrics = 0;
  let browser: Browser;
  let page: Page;
  let navigations = 0;
  const browserErrors: string[] = [];

  const boxPids = () =>
    page
      .locator("#workers .worker")
      .evaluateAll((boxes) => boxes.map((box) => Number(box.getAttribute("data-pid"))));

  /** Waits until the page shows exactly `count` worker boxes, all idle; returns their pids. */
  async function idleBoxes(count: number): Promise<number[]> {
    await waitUntil(
      async () =>
        (await page.locator("#workers .worker").count()) === count &&
        (await page.locator("#workers .worker:not(.idle)").count()) === 0,
    );
    return boxPids();
  }

  beforeAll(async () => {
    server = new GatewayProcess([
      "-b",
      "127.0.0.1:0",
      "-w",
      "2",
      "--max-requests",
      "1000",
      "--metrics-bind",
      "127.0.0.1:0",
      join(ROOT, "tests/fixtures/apps/slow.js"),
    ]);
    metrics = await metricsPort(server);
    await server.ready(2);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    await watchPage(page, browserErrors);
    page.on("framenavigated", () => (navigations += 1));
    const response = await page.goto(`http://127.0.0.1:${metrics}/`);
    expect(response?.status()).toBe(200);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.kill();
  });

  it("draws one box per worker, with the pids the master has", async () => {
    const pids = await idleBoxes(2);
    expect(pids.sort()).toEqual((await server.workerPids()).sort());
    await expect(page.locator("#connection").textContent()).resolves.toBe("live");
    await expect(page.locator("#master").textContent()).resolves.toContain(
      `Master pid ${server.pid}`,
    );
    await expect(page.locator("#try .master-pid").first().textContent()).resolves.toBe(
      String(server.pid),
    );
  });

  it("shows a worker busy with a slow request, then its count going up", async () => {
    const slow = get(server.port, "/slow?ms=2500");
    const busy = page.locator("#workers .worker.busy");
    await busy.waitFor({ timeout: 10_000 });
    await expect(busy.locator(".request").textContent()).resolves.toMatch(
      /^GET \/slow\?ms=2500 for \d/,
    );
    const pid = Number(/pid=(\d+)/.exec((await slow).body)![1]);
    await expect(busy.getAttribute("data-pid")).resolves.toBe(String(pid));
    const requests = page.locator(`.worker[data-pid="${pid}"] .requests`);
    await waitUntil(async () => (await requests.textContent()) === "1 of 1000", 10_000);
  });

  it("adds a box when the master gets TTIN", async () => {
    const before = await idleBoxes(2);
    server.signal("SIGTTIN");
    const after = await idleBoxes(3);
    const added = after.filter((pid) => !before.includes(pid));
    expect(added).toHaveLength(1);
    expect((await server.workerPids()).sort()).toEqual(after.sort());
    await expect(page.locator("#events tr").first().textContent()).resolves.toContain(
      String(added[0]),
    );
  });

  it("replaces the box of a worker killed with kill -9", async () => {
    const before = await idleBoxes(3);
    const victim = before[0]!;
    // Traffic while it happens: the boxes' numbers move as the other workers serve.
    const traffic = loadLoop(server.port, { total: 300, concurrency: 4 });
    process.kill(victim, "SIGKILL");
    await page
      .locator(`.worker[data-pid="${victim}"]`)
      .waitFor({ state: "detached", timeout: 30_000 });
    expect((await traffic).failed).toBe(0);
    const after = await idleBoxes(3);
    expect(after).not.toContain(victim);
    expect(after.filter((pid) => !before.includes(pid))).toHaveLength(1);
    const killed = page.locator("#events tr", { hasText: `signal SIGKILL, unexpectedly` });
    await expect(killed.locator("td").nth(2).textContent()).resolves.toBe(String(victim));
  });

  it("did it all without reloading the page, and with no errors in the console", () => {
    expect(navigations).toBe(1);
    expect(browserErrors).toEqual([]);
  });

  it("saves the screenshot the walkthrough shows", async () => {
    // A request in progress makes the picture tell more: one busy worker beside the idle ones.
    const slow = get(server.port, "/slow?ms=3000");
    await page.locator("#workers .worker.busy").waitFor({ timeout: 10_000 });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    await slow;
    const png = readFileSync(SCREENSHOT);
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    expect(png.length).toBeGreaterThan(10_000);
  });
});
