/**
 * The original, without Docker: Debian's Gunicorn serving wsgi/app.py with wsgi/gunicorn.conf.py
 * (its bind and worker count overridden for a loopback test port), mounted at /wsgi as compose
 * runs it. curl gets Hello, World!; a browser gets the environ table, laid out like the TSGI
 * hello page; /compare's JSON view carries the same environ as data.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { helloPage } from "../../../app/hello-page.js";
import { callApp } from "../../../tsgi/testing.js";
import { startGunicorn, type RunningGunicorn } from "../../helpers/gunicorn.js";
import { gunicornProblem, shouldRun } from "../../helpers/python.js";

const ROOT = join(import.meta.dirname, "..", "..", "..");
const BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

describe.runIf(shouldRun("the WSGI reference app", gunicornProblem()))(
  "wsgi/app.py on Debian's Gunicorn, mounted at /wsgi",
  () => {
    let gunicorn: RunningGunicorn;

    beforeAll(async () => {
      gunicorn = await startGunicorn({
        dir: join(ROOT, "wsgi"),
        app: "app:app",
        args: ["-w", "2"],
        env: { SCRIPT_NAME: "/wsgi" },
      });
    });
    afterAll(() => gunicorn?.stop());

    const get = (path: string, accept: string, headers: Record<string, string> = {}) =>
      fetch(gunicorn.url + path, { headers: { Accept: accept, ...headers } });

    it("answers curl with Hello, World!", async () => {
      const response = await get("/wsgi/", "*/*");
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("text/plain; charset=utf-8");
      await expect(response.text()).resolves.toBe("Hello, World!");
    });

    it("shows a browser the environ, wsgi.* and gunicorn.* keys included, and the worker pid", async () => {
      const response = await get("/wsgi/a%2Fb?x=1", BROWSER, {
        "X-Test": "<script>alert(1)</script>",
      });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-security-policy")).toContain("default-src 'none'");
      const html = await response.text();
      expect(html).toContain("<h1>Hello, World!</h1>");
      expect(html).toContain(
        '<tr class="cgi"><th scope="row">SCRIPT_NAME</th><td>&quot;/wsgi&quot;</td></tr>',
      );
      expect(html).toContain(
        '<tr class="cgi"><th scope="row">PATH_INFO</th><td>&quot;/a/b&quot;</td></tr>',
      );
      expect(html).toContain(
        '<tr class="wsgi"><th scope="row">wsgi.version</th><td>[1,0]</td></tr>',
      );
      expect(html).toContain(
        '<tr class="wsgi"><th scope="row">wsgi.multiprocess</th><td>true</td></tr>',
      );
      expect(html).toMatch(
        /<tr class="extension"><th scope="row">gunicorn\.socket<\/th><td>&lt;socket&gt;<\/td><\/tr>/,
      );
      expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
      expect(html).not.toContain("<script>");
      const pid = Number(/<code id="worker-pid">(\d+)<\/code>/.exec(html)?.[1]);
      // A worker, not the arbiter: a child of the process we started.
      expect(pid).not.toBe(gunicorn.pid);
      expect(readFileSync(`/proc/${pid}/status`, "utf8")).toMatch(
        new RegExp(`^PPid:\\s+${gunicorn.pid}$`, "m"),
      );
    });

    it("lays the page out like the TSGI hello page (same structure and style)", async () => {
      const python = await (await get("/wsgi/", BROWSER)).text();
      const { body } = await callApp(helloPage, { headers: { Accept: BROWSER } });
      const typescript = Buffer.from(body).toString();
      const style = (html: string) => /<style>([\s\S]*?)<\/style>/.exec(html)?.[1]?.trim();
      expect(style(python)).toBe(style(typescript)?.replace("tr.tsgi", "tr.wsgi"));
      const skeleton = (html: string) =>
        [...html.matchAll(/<(h1|h2|dl|table|thead|tbody)[^>]*>/g)].map((m) => m[0]);
      expect(skeleton(python)).toEqual(skeleton(typescript));
      // Every fact the TSGI page shows (pid, trail, …), the WSGI page shows too.
      const ids = (html: string) => [...html.matchAll(/ id="([^"]+)"/g)].map((m) => m[1]);
      expect(ids(python)).toEqual(expect.arrayContaining(ids(typescript)));
    });

    it("gives /compare the environ as JSON, native strings as they are", async () => {
      const response = await get("/wsgi/caf%C3%A9?q=1", "application/json");
      expect(response.headers.get("content-type")).toBe("application/json");
      const data = (await response.json()) as {
        environ: Record<string, string>;
        others: Record<string, string>;
        pid: number;
      };
      expect(data.environ["PATH_INFO"]).toBe("/caf\u00c3\u00a9");
      expect(data.environ["QUERY_STRING"]).toBe("q=1");
      expect(data.environ["SERVER_SOFTWARE"]).toBe("gunicorn/23.0.0");
      expect(data.environ["wsgi.url_scheme"]).toBe("http");
      expect(data.others["wsgi.input"]).toBe("<Body>");
      expect(data.others["wsgi.version"]).toBe("[1,0]");
      expect(data.pid).toBeGreaterThan(0);
    });
  },
);
