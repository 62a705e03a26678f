/**
 * /compare in a real browser: the stack a newcomer runs (the gateway serving the demo, nginx in
 * front when installed) with Debian's Gunicorn serving wsgi/app.py at /wsgi as the Python side.
 * Chromium loads /compare/café, the rows line up key by key, differences are highlighted, and
 * the screenshot the README shows is saved (docs/images/compare-page.png). The README's Mermaid
 * diagram is rendered in the same browser with the mermaid package, so a syntax error in it
 * fails here rather than on GitHub.
 */
import { createRequire } from "node:module";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { noteSkip } from "../helpers/skips.js";
import { startGunicorn, type RunningGunicorn } from "../helpers/gunicorn.js";
import { nginxProblem } from "../helpers/nginx.js";
import { gunicornProblem, shouldRun } from "../helpers/python.js";
import { ROOT, screenshotPath, startStack, type Stack } from "./stack.js";

const CHROMIUM = "/usr/bin/chromium";
const SCREENSHOT = screenshotPath("compare-page.png");
const haveChromium = existsSync(CHROMIUM);
const inCi = process.env.CI === "true";
if (!haveChromium && !inCi)
  noteSkip(
    "/compare and the Mermaid diagram in Chromium",
    `${CHROMIUM} is missing (apt-get install chromium)`,
  );

async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
}

describe.runIf((haveChromium || inCi) && shouldRun("/compare in Chromium", gunicornProblem()))(
  "/compare in Chromium",
  () => {
    let gunicorn: RunningGunicorn;
    let stack: Stack;
    let browser: Browser;
    let page: Page;
    const browserErrors: string[] = [];

    beforeAll(async () => {
      gunicorn = await startGunicorn({
        dir: join(ROOT, "wsgi"),
        app: "app:app",
        args: ["-w", "2"],
        env: { SCRIPT_NAME: "/wsgi" },
      });
      // The gateway's process inherits this: the demo's /compare forwards to Gunicorn.
      process.env.COMPARE_UPSTREAM = `${gunicorn.url}/wsgi`;
      stack = await startStack({ nginx: nginxProblem() === null });
      browser = await launch();
      page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      page.on("console", (message) => {
        if (message.type() === "error") browserErrors.push(message.text());
      });
      page.on("pageerror", (error) => browserErrors.push(error.message));
      await page.route(/^(?!http:\/\/127\.0\.0\.1[:/])/, (route) => route.abort());
    });

    afterAll(async () => {
      await browser?.close();
      await stack?.stop();
      await gunicorn?.stop();
    });

    it("lines the two environs up key by key and highlights what differs", async () => {
      const response = await page.goto(`${stack.url}/compare/caf%C3%A9?lang=fr`);
      expect(response?.status(), stack.output() + gunicorn.output()).toBe(200);
      const row = (key: string) => page.locator(`#compare tr[data-key="${key}"]`);
      await expect(row("PATH_INFO").getAttribute("class")).resolves.toBe("same");
      await expect(row("PATH_INFO").locator("td.value").first().textContent()).resolves.toBe(
        '"/caf\u00c3\u00a9" (UTF-8: /café)',
      );
      await expect(row("SCRIPT_NAME").getAttribute("class")).resolves.toBe("differs");
      await expect(row("tsgi.version").locator("th").textContent()).resolves.toBe(
        "tsgi.version ↔ wsgi.version",
      );
      // A difference is visible, not just a class name: its cells have a background.
      const background = await row("SCRIPT_NAME")
        .locator("td.value")
        .first()
        .evaluate((cell) => {
          // Runs in the page: the browser's getComputedStyle (no DOM types in this project's tsconfig).
          const view = globalThis as unknown as {
            getComputedStyle(element: unknown): { backgroundColor: string };
          };
          return view.getComputedStyle(cell).backgroundColor;
        });
      expect(background).not.toBe("rgba(0, 0, 0, 0)");
      await expect(page.locator("#compare tr.unexplained").count()).resolves.toBe(0);
      expect(browserErrors).toEqual([]);
    });

    it("saves the screenshot the README shows", async () => {
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      const png = readFileSync(SCREENSHOT);
      expect(png.subarray(1, 4).toString()).toBe("PNG");
      expect(png.length).toBeGreaterThan(10_000);
    });
  },
);

describe.runIf(haveChromium || inCi)("the README's Mermaid diagram", () => {
  it("renders to an SVG with every participant", async () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const diagrams = [...readme.matchAll(/```mermaid\n([\s\S]*?)```/g)].map((match) => match[1]!);
    expect(diagrams.length).toBeGreaterThan(0);
    const script = createRequire(import.meta.url).resolve("mermaid/dist/mermaid.min.js");
    const browser = await launch();
    try {
      const page = await browser.newPage();
      await page.setContent("<!doctype html><html><body></body></html>");
      await page.addScriptTag({ path: script });
      for (const source of diagrams) {
        const svg = await page.evaluate(async (text) => {
          const mermaid = (
            globalThis as unknown as {
              mermaid: {
                initialize(options: object): void;
                render(id: string, text: string): Promise<{ svg: string }>;
              };
            }
          ).mermaid;
          mermaid.initialize({ startOnLoad: false });
          return (await mermaid.render("diagram", text)).svg;
        }, source);
        expect(svg).toMatch(/^<svg/);
        for (const participant of source.matchAll(/participant \w+ as (.+)/g))
          expect(svg).toContain(participant[1]!.trim().replace(" (master)", ""));
      }
    } finally {
      await browser.close();
    }
    // mermaid.min.js is 3 MB of JavaScript for Chromium to parse: slow on a busy machine.
  }, 180_000);
});
