/**
 * The hello page in a real browser, through the running stack: Debian's headless Chromium,
 * driven by playwright-core, loads the page from nginx (or the gateway itself when nginx is not
 * installed), checks the environ table and the worker pid, and saves the screenshot the README
 * shows (docs/images/hello-page.png, rewritten only with UPDATE_SCREENSHOTS=1).
 */
import { existsSync, readFileSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { noteSkip } from "../helpers/skips.js";
import { nginxProblem } from "../helpers/nginx.js";
import { CHROMIUM, haveChromium, launchChromium, watchPage } from "./chromium.js";
import { screenshotPath, startStack, type Stack } from "./stack.js";

const SCREENSHOT = screenshotPath("hello-page.png");
const inCi = process.env.CI === "true";

if (!haveChromium && !inCi)
  noteSkip("the hello page in Chromium", `${CHROMIUM} is missing (apt-get install chromium)`);

if (!inCi)
  noteSkip(
    "a browser needs Chromium in CI",
    "checked under CI=true only, where .ci/run installs Chromium",
  );

describe("a browser needs Chromium in CI", () => {
  it.runIf(inCi)(`finds ${CHROMIUM}`, () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing; .ci/run installs it`).toBe(true);
  });
});

describe.runIf(haveChromium)("the hello page in Chromium", () => {
  let stack: Stack;
  let browser: Browser;
  let page: Page;
  const browserErrors: string[] = [];

  beforeAll(async () => {
    const noNginx = nginxProblem();
    if (noNginx !== null) console.warn(`${noNginx}: the browser talks to the gateway directly`);
    stack = await startStack({ nginx: noNginx === null });
    console.info(
      `browser test: ${stack.app} on ${stack.workers} worker(s), ` +
        (stack.viaNginx ? "nginx in front (nginx/foobar.conf)" : "no nginx, gateway directly") +
        `, at ${stack.url}`,
    );
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
    await watchPage(page, browserErrors);
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  async function load(): Promise<void> {
    const response = await page.goto(stack.url + "/");
    expect(response?.status(), stack.output()).toBe(200);
    expect(response?.headers()["content-type"]).toBe("text/html; charset=utf-8");
  }

  async function environ(): Promise<Map<string, string>> {
    const rows = await page
      .locator("#environ tbody tr")
      .evaluateAll((trs) =>
        trs.map((tr) => [
          tr.querySelector("th")?.textContent ?? "",
          tr.querySelector("td")?.textContent ?? "",
        ]),
      );
    return new Map(rows as [string, string][]);
  }

  it("says hello and shows the environ the app received", async () => {
    await load();
    await expect(page.locator("h1").textContent()).resolves.toBe("Hello, World!");
    const table = await environ();
    expect(table.get("REQUEST_METHOD")).toBe('"GET"');
    expect(table.get("PATH_INFO")).toBe('"/"');
    expect(table.get("HTTP_USER_AGENT")).toMatch(/Chrome/);
    expect(table.get("HTTP_ACCEPT")).toMatch(/text\/html/);
    expect(table.get("tsgi.version")).toBe("[1,0]");
    expect(table.get("tsgi.url_scheme")).toBe('"http"');
    expect(table.get("tsgi.input")).toMatch(/^<\w+>$/);
    if (stack.viaNginx) {
      // nginx added X-Forwarded-For; the gateway trusts loopback proxies, so REMOTE_ADDR is the browser.
      expect(table.get("HTTP_X_FORWARDED_FOR")).toBe('"127.0.0.1"');
      expect(table.get("REMOTE_ADDR")).toBe('"127.0.0.1"');
    }
  });

  it("shows the pid of the worker that served it", async () => {
    const seen = new Set<number>();
    // A few reloads: with several workers, more than one may answer (not guaranteed, not asserted).
    for (let reload = 0; reload < 6; reload++) {
      await load();
      seen.add(Number(await page.locator("#worker-pid").textContent()));
    }
    for (const pid of seen) {
      if (stack.workers > 1) {
        // A worker is a child of the arbiter, never the arbiter itself.
        expect(pid).not.toBe(stack.gatewayPid);
        const status = readFileSync(`/proc/${pid}/status`, "utf8");
        expect(status).toMatch(new RegExp(`^PPid:\\s+${stack.gatewayPid}$`, "m"));
      } else {
        expect(pid).toBe(stack.gatewayPid);
      }
    }
    console.info(`browser test: worker pids seen: ${[...seen].join(", ")}`);
  });

  it("shows the middleware trail", async () => {
    await load();
    const trail = (await page.locator("#middleware-trail").textContent()) ?? "";
    if (stack.app.startsWith("app/dist/index.js")) expect(trail).toMatch(/→ app$/);
    else expect(trail).toBe("(none)");
  });

  it("loads over HTTPS with HTTP/2 through nginx, and the app sees https", async (context) => {
    if (stack.httpsUrl === undefined) return context.skip("no nginx in front: no HTTPS");
    // nginx's certificate is a throw-away self-signed one: this browser context trusts it.
    const secure = await browser.newContext({ ignoreHTTPSErrors: true });
    try {
      const tab = await secure.newPage();
      await tab.route(/^(?!https:\/\/127\.0\.0\.1[:/])/, (route) => route.abort());
      const response = await tab.goto(stack.httpsUrl + "/");
      expect(response?.status(), stack.output()).toBe(200);
      // (A string: the test's types have no DOM.)
      const protocol = await tab.evaluate<string>(
        'performance.getEntriesByType("navigation")[0].nextHopProtocol',
      );
      expect(protocol).toBe("h2");
      expect(await tab.locator("#url-scheme").textContent()).toBe("https");
    } finally {
      await secure.close();
    }
  });

  it("loads with no errors in the browser's console", () => {
    expect(browserErrors).toEqual([]);
  });

  it("saves the screenshot the README shows", async () => {
    await load();
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    const png = readFileSync(SCREENSHOT);
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    expect(png.length).toBeGreaterThan(10_000);
  });
});
