/**
 * An XML view of the request's environ: every key the server (and the middleware on the way)
 * put there, grouped as CGI variables, request headers, `tsgi.*` keys and extensions. Served raw
 * at `/environ.xml` and, through the XSLT middleware and `environ-stylesheet.ts`, as HTML at
 * `/environ` — the same app, with and without post-processing. The root element names the
 * host (the container, in Docker) and the worker process that answered.
 */
import { hostname } from "node:os";
import type { Application, Environ } from "@foobar/tsgi";
import { describeValue } from "./describe-value.js";
import { trailOf } from "./middleware-trail.js";

/** Characters XML 1.0 cannot carry at all, even escaped (header values may hold them). */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g;

function escapeXml(text: string): string {
  return text
    .replace(NOT_XML, "\ufffd")
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

type Group = "cgi" | "header" | "tsgi" | "extension";

function groupOf(key: string): Group {
  if (key.startsWith("HTTP_")) return "header";
  if (key.startsWith("tsgi.")) return "tsgi";
  if (key.includes(".")) return "extension";
  return "cgi";
}

const GROUP_ORDER: Group[] = ["cgi", "header", "tsgi", "extension"];

/** The environ as an XML document (a string). */
export function environToXml(environ: Environ): string {
  const keys = Object.keys(environ);
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>'];
  lines.push(
    `<environ script-name="${escapeXml(environ.SCRIPT_NAME)}" path-info="${escapeXml(environ.PATH_INFO)}"` +
      // Who answered: behind nginx with several replicas, the container's host name changes.
      ` hostname="${escapeXml(hostname())}" worker-pid="${process.pid}">`,
  );
  for (const group of GROUP_ORDER) {
    lines.push(`  <group kind="${group}">`);
    for (const key of keys.filter((name) => groupOf(name) === group).sort()) {
      const value: unknown = (environ as unknown as Record<string, unknown>)[key];
      // Strings are the text of the element as they are; anything else is described.
      const text = typeof value === "string" ? value : describeValue(value);
      lines.push(`    <variable name="${escapeXml(key)}">${escapeXml(text)}</variable>`);
    }
    lines.push("  </group>");
  }
  lines.push("  <trail>");
  for (const step of trailOf(environ)) lines.push(`    <step>${escapeXml(step)}</step>`);
  lines.push("  </trail>");
  lines.push("</environ>");
  return lines.join("\n") + "\n";
}

export const environView: Application = (environ, startResponse) => {
  const body = new TextEncoder().encode(environToXml(environ));
  startResponse("200 OK", [
    ["Content-Type", "application/xml; charset=utf-8"],
    ["Content-Length", String(body.length)],
    ["Cache-Control", "no-store"],
  ]);
  return [body];
};
