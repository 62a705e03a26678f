/**
 * The project's nginx config mounting Gunicorn at /wsgi/, on loopback (no Docker): Debian's nginx
 * with nginx/foobar.conf in front of the gateway (at /) and of Debian's Gunicorn serving
 * wsgi/app.py with SCRIPT_NAME=/wsgi (at /wsgi/). Mounting must be right on both sides: the path
 * reaches Gunicorn as the client sent it, and Gunicorn splits it at the mount.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type RunningGateway } from "../../helpers/gateway.js";
import { startGunicorn, type RunningGunicorn } from "../../helpers/gunicorn.js";
import { nginxProblem, startNginx, type RunningNginx } from "../../helpers/nginx.js";
import { gunicornProblem, shouldRun } from "../../helpers/python.js";
import { helloPage } from "../../../app/hello-page.js";

const ROOT = join(import.meta.dirname, "..", "..", "..");
const tools = [gunicornProblem(), nginxProblem()].filter((problem) => problem !== null);

describe.runIf(shouldRun("nginx /wsgi/ mount", tools.length > 0 ? tools.join("; ") : null))(
  "nginx/foobar.conf: /wsgi/ to Gunicorn, everything else to the gateway",
  () => {
    let gunicorn: RunningGunicorn;
    let gateway: RunningGateway;
    let nginx: RunningNginx;
    let base = "";

    beforeAll(async () => {
      [gunicorn, gateway] = await Promise.all([
        startGunicorn({ dir: join(ROOT, "wsgi"), app: "app:app", env: { SCRIPT_NAME: "/wsgi" } }),
        startGateway(helloPage),
      ]);
      nginx = await startNginx({ upstreamPort: gateway.port, wsgiPort: gunicorn.port });
      base = `http://127.0.0.1:${nginx.port}`;
    });
    afterAll(async () => {
      await nginx?.stop();
      await gateway?.close();
      await gunicorn?.stop();
    });

    async function wsgiEnviron(path: string): Promise<Record<string, string>> {
      const response = await fetch(base + path, { headers: { Accept: "application/json" } });
      expect(response.status, nginx.output() + gunicorn.output()).toBe(200);
      return ((await response.json()) as { environ: Record<string, string> }).environ;
    }

    it("answers curl at /wsgi/ from Python and at / from TypeScript", async () => {
      const python = await fetch(base + "/wsgi/", { headers: { Accept: "*/*" } });
      expect(await python.text()).toBe("Hello, World!");
      const typescript = await fetch(base + "/", { headers: { Accept: "text/html" } });
      expect(await typescript.text()).toContain("This page is a TSGI application");
    });

    it("passes the path as sent; Gunicorn splits it at SCRIPT_NAME", async () => {
      const environ = await wsgiEnviron("/wsgi/a%2Fb/caf%C3%A9?x=1");
      expect(environ["SCRIPT_NAME"]).toBe("/wsgi");
      expect(environ["PATH_INFO"]).toBe("/a/b/caf\u00c3\u00a9");
      expect(environ["RAW_URI"]).toBe("/wsgi/a%2Fb/caf%C3%A9?x=1");
      expect(environ["QUERY_STRING"]).toBe("x=1");
      expect(environ["HTTP_X_FORWARDED_FOR"]).toBe("127.0.0.1");
      expect(environ["wsgi.url_scheme"]).toBe("http");
      expect((await wsgiEnviron("/wsgi/"))["PATH_INFO"]).toBe("/");
    });

    it("redirects /wsgi to /wsgi/", async () => {
      const response = await fetch(base + "/wsgi?q=1", { redirect: "manual" });
      expect(response.status).toBe(301);
      expect(new URL(response.headers.get("location")!).pathname).toBe("/wsgi/");
    });
  },
);
