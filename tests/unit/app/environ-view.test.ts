import { describe, expect, it } from "vitest";
import { ENVIRON_STYLESHEET } from "../../../app/environ-stylesheet.js";
import { environToXml, environView } from "../../../app/environ-view.js";
import { trail, trailOf } from "../../../app/middleware-trail.js";
import { xslt } from "../../../app/xslt.js";
import { callApp, makeEnviron } from "../../../tsgi/testing.js";
import { validate } from "../../../tsgi/validate.js";
import type { Application } from "../../../tsgi/types.js";

const rendered = validate(xslt(ENVIRON_STYLESHEET)(validate(environView)));

describe("environView", () => {
  it("lists every environ key as XML, grouped", async () => {
    const response = await callApp(validate(environView), {
      path: "/x?q=1",
      headers: { "X-Custom": "v" },
    });
    expect(response.header("content-type")).toBe("application/xml; charset=utf-8");
    expect(response.text).toContain('<variable name="QUERY_STRING">q=1</variable>');
    expect(response.text).toContain('<variable name="HTTP_X_CUSTOM">v</variable>');
    expect(response.text).toContain('<variable name="tsgi.version">[1,0]</variable>');
    expect(response.text).toMatch(/<group kind="cgi">[\s\S]*<group kind="header">/);
  });

  it("escapes markup and replaces characters XML cannot hold", () => {
    const environ = makeEnviron({
      headers: { "X-Evil": '<script>"&' },
      environ: { "demo.bell": "a\u0007b" },
    });
    const xml = environToXml(environ);
    expect(xml).toContain("&lt;script&gt;&quot;&amp;");
    expect(xml).toContain("a\ufffdb");
    expect(xml).not.toContain("<script>");
  });

  it("renders to HTML through the stylesheet, with a link built from SCRIPT_NAME", async () => {
    const response = await callApp(rendered, {
      environ: { SCRIPT_NAME: "/environ", PATH_INFO: "" },
    });
    expect(response.code).toBe(200);
    expect(response.header("content-type")).toBe("text/html; charset=utf-8");
    expect(response.text).toMatch(/^<!DOCTYPE html>\n<html>/);
    expect(response.text).toContain('<a href="/environ.xml">');
    expect(response.text).toContain('<td class="name">REQUEST_METHOD</td>');
  });

  it("keeps hostile header values as text in the HTML", async () => {
    const response = await callApp(rendered, {
      headers: { "X-Evil": "<script>alert(1)</script>" },
    });
    expect(response.text).not.toContain("<script>");
    expect(response.text).toContain("&lt;script&gt;");
  });
});

describe("trail", () => {
  const seen: Application = (environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [new TextEncoder().encode(trailOf(environ).join(">"))];
  };

  it("records each middleware a request passes, outermost first", async () => {
    const app = validate(trail("outer")(validate(trail("inner")(validate(seen)))));
    expect((await callApp(app)).text).toBe("outer>inner");
  });

  it("shows in the environ view", async () => {
    const response = await callApp(validate(trail("one")(trail("two")(rendered))));
    expect(response.text).toMatch(/<li>one<\/li><li>two<\/li>/);
  });
});
