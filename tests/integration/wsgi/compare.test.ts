/**
 * /compare over real sockets: the demo app on the gateway forwards the request, through its own
 * proxy middleware, to Debian's Gunicorn serving wsgi/app.py at /wsgi, and shows both environs
 * aligned. Every difference on the page must be a known one (explained in a line); without the
 * Python service the page says how to start it.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alignEnvirons, explainDifference } from "../../../app/compare-page.js";
import { createDemo } from "../../../app/index.js";
import { makeEnviron } from "../../../tsgi/testing.js";
import { startGateway, type RunningGateway } from "../../helpers/gateway.js";
import { startGunicorn, type RunningGunicorn } from "../../helpers/gunicorn.js";
import { freePort } from "../../helpers/net.js";
import { gunicornProblem, shouldRun } from "../../helpers/python.js";

const ROOT = join(import.meta.dirname, "..", "..", "..");
const BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
const started: { close(): Promise<void> }[] = [];
afterAll(() => Promise.all(started.map((server) => server.close())));

async function demoWith(env: Record<string, string>): Promise<RunningGateway> {
  const gateway = await startGateway(createDemo(env));
  started.push(gateway);
  return gateway;
}

/** The page's rows: key → [state classes, TSGI value, WSGI value, note]. */
function rowsOf(html: string): Map<string, { classes: string; cells: string[] }> {
  const rows = new Map<string, { classes: string; cells: string[] }>();
  for (const match of html.matchAll(/<tr class="([^"]+)" data-key="([^"]+)">(.*?)<\/tr>/g)) {
    const cells = [...match[3]!.matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((cell) => cell[1]!);
    rows.set(match[2]!, { classes: match[1]!, cells });
  }
  return rows;
}

describe("/compare without the Python service", () => {
  it("says how to start it, and still shows the TSGI side", async () => {
    const gateway = await demoWith({});
    const response = await fetch(gateway.url + "/compare", { headers: { Accept: BROWSER } });
    expect(response.status).toBe(503);
    const html = await response.text();
    expect(html).toContain('id="compare-unavailable"');
    expect(html).toContain("COMPARE_UPSTREAM is not set");
    expect(html).toContain("docker compose up");
    expect(html).toContain(
      "SCRIPT_NAME=/wsgi gunicorn -c wsgi/gunicorn.conf.py --chdir wsgi -b 127.0.0.1:8001",
    );
    expect(rowsOf(html).get("SCRIPT_NAME")?.cells[0]).toBe("&quot;/compare&quot;");
  });

  it("says so when the configured service does not answer", async () => {
    const nobody = await freePort();
    const gateway = await demoWith({ COMPARE_UPSTREAM: `http://127.0.0.1:${nobody}/wsgi` });
    const response = await fetch(gateway.url + "/compare", { headers: { Accept: BROWSER } });
    expect(response.status).toBe(503);
    const html = await response.text();
    expect(html).toContain(`http://127.0.0.1:${nobody}/wsgi answered 502 Bad Gateway`);
    expect(html).not.toMatch(/ECONNREFUSED|at .+:\d+:\d+/);
  });
});

describe("alignEnvirons", () => {
  it("puts tsgi.x beside wsgi.x and gateway.raw_uri beside RAW_URI", () => {
    const environ = makeEnviron({ path: "/x" });
    const rows = alignEnvirons(environ, {
      environ: { PATH_INFO: "/x", RAW_URI: "/x", SERVER_SOFTWARE: "gunicorn/20.1.0" },
      others: { "wsgi.version": "[1,0]", "gunicorn.socket": "<socket>" },
      pid: 1,
    });
    const byKey = new Map(rows.map((row) => [row.key, row]));
    expect(byKey.get("tsgi.version")).toMatchObject({ wsgiKey: "wsgi.version", state: "same" });
    expect(byKey.get("PATH_INFO")?.state).toBe("same");
    expect(byKey.get("gunicorn.socket")).toMatchObject({ state: "wsgi-only" });
    expect(byKey.get("gunicorn.socket")?.note).toMatch(/socket/);
    expect(explainDifference("HTTP_X_SOMETHING_NEW", '"a"', '"b"')).toBeNull();
  });

  it("explains the listening socket by where Gunicorn actually listens", () => {
    expect(explainDifference("SERVER_NAME", '"127.0.0.1"', '"0.0.0.0"')).toContain(
      "Gunicorn binds 0.0.0.0",
    );
    const onHost = explainDifference("SERVER_NAME", '"127.0.0.1"', '"127.0.0.2"');
    expect(onHost).toContain("COMPARE_UPSTREAM");
    expect(onHost).not.toContain("container");
  });
});

describe.runIf(shouldRun("/compare against Gunicorn", gunicornProblem()))(
  "/compare with Debian's Gunicorn serving wsgi/app.py at /wsgi",
  () => {
    let gunicorn: RunningGunicorn;
    let gateway: RunningGateway;

    beforeAll(async () => {
      gunicorn = await startGunicorn({
        dir: join(ROOT, "wsgi"),
        app: "app:app",
        env: { SCRIPT_NAME: "/wsgi" },
      });
      gateway = await demoWith({ COMPARE_UPSTREAM: `${gunicorn.url}/wsgi` });
    });
    afterAll(() => gunicorn?.stop());

    it("shows both environs for the same request, every difference explained", async () => {
      const response = await fetch(gateway.url + "/compare/caf%C3%A9?x=1", {
        headers: { Accept: BROWSER, "X-Test": "<b>bold</b>" },
      });
      const html = await response.text();
      expect(response.status, html).toBe(200);
      const rows = rowsOf(html);
      // The same request: both servers decoded the path to the same native string.
      expect(rows.get("PATH_INFO")).toMatchObject({ classes: "same" });
      expect(rows.get("PATH_INFO")?.cells[0]).toBe("&quot;/caf\u00c3\u00a9&quot; (UTF-8: /café)");
      expect(rows.get("QUERY_STRING")).toMatchObject({ classes: "same" });
      expect(rows.get("HTTP_X_TEST")?.cells[1]).toBe("&quot;&lt;b&gt;bold&lt;/b&gt;&quot;");
      expect(rows.get("tsgi.version")).toMatchObject({ classes: "same" });
      expect(rows.get("SCRIPT_NAME")?.classes).toBe("differs");
      expect(rows.get("SCRIPT_NAME")?.cells.slice(0, 2)).toEqual([
        "&quot;/compare&quot;",
        "&quot;/wsgi&quot;",
      ]);
      expect(rows.get("gunicorn.socket")?.classes).toBe("wsgi-only");
      expect(rows.get("SERVER_SOFTWARE")?.cells[1]).toBe("&quot;gunicorn/23.0.0&quot;");
      const unexplained = [...rows].filter(([, row]) => row.classes.includes("unexplained"));
      expect(unexplained).toEqual([]);
      expect(html).toMatch(
        /<dd id="compare-summary">\d+ the same, \d+ different, .*0 unexplained<\/dd>/,
      );
      expect(html).toMatch(/<code id="wsgi-pid">\d+<\/code>/);
    });

    it("explains the one path difference at the mount's root: an empty path goes as /", async () => {
      const response = await fetch(gateway.url + "/compare", { headers: { Accept: BROWSER } });
      const rows = rowsOf(await response.text());
      expect(rows.get("PATH_INFO")).toMatchObject({ classes: "differs" });
      expect(rows.get("PATH_INFO")?.cells[2]).toMatch(/never empty/);
      expect([...rows].filter(([, row]) => row.classes.includes("unexplained"))).toEqual([]);
    });
  },
);
