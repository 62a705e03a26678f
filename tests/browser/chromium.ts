/**
 * Debian's headless Chromium for the browser tests, through playwright-core: launched with the
 * flags a container needs, and a page that records every error its console or scripts report.
 */
import { existsSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";
export const haveChromium = existsSync(CHROMIUM);

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-dev-shm-usage",
    ],
  });
}

/**
 * Errors the page reports go into `errors` (a blocked style or script, a failed load, a CSP
 * report); any request that leaves loopback is aborted, so the page must work offline.
 */
export async function watchPage(page: Page, errors: string[]): Promise<void> {
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(error.message));
  await page.route(/^(?!http:\/\/127\.0\.0\.1[:/])/, (route) => route.abort());
}
