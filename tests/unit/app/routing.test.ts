import { describe, expect, it } from "vitest";
import { notFound, urlMap } from "../../../app/routing.js";
import { callApp } from "../../../tsgi/testing.js";
import { validate } from "../../../tsgi/validate.js";
import { whereAmI } from "./echo-app.js";

describe("urlMap", () => {
  // Every app validated on both sides: the router is a server to the apps it mounts.
  const router = validate(
    urlMap({
      "/": validate(whereAmI("root")),
      "/api": validate(whereAmI("api")),
      "/api/v1/": validate(whereAmI("v1")),
      [Buffer.from("/café").toString("latin1")]: validate(whereAmI("cafe")),
    }),
  );

  it.each([
    ["/", "root |/"],
    ["/index.html", "root |/index.html"],
    ["/api", "api /api|"],
    ["/api/", "api /api|/"],
    ["/api/items/1", "api /api|/items/1"],
    ["/apix", "root |/apix"],
    ["/api/v1", "v1 /api/v1|"],
    ["/api/v1/x", "v1 /api/v1|/x"],
    ["/api/v10", "api /api|/v10"],
    // The server decodes %2F to "/" in PATH_INFO: routers cannot tell it from a real slash.
    ["/api%2Fitems", "api /api|/items"],
    // PATH_INFO holds bytes as Latin-1: the UTF-8 "é" is two characters, and so is the mount.
    ["/caf%C3%A9/menu", "cafe /caf\u00c3\u00a9|/menu"],
  ])("%s → %s", async (path, expected) => {
    const response = await callApp(router, { path });
    expect(response.code).toBe(200);
    expect(response.text).toBe(expected);
  });

  it("sees PATH_INFO empty at the server root, and keeps it empty", async () => {
    const response = await callApp(router, { environ: { PATH_INFO: "" } });
    expect(response.text).toBe("root |");
  });

  it("adds to a SCRIPT_NAME set by an outer mount (nested routers)", async () => {
    const outer = validate(urlMap({ "/outer": router }));
    expect((await callApp(outer, { path: "/outer/api/x" })).text).toBe("api /outer/api|/x");
    expect((await callApp(outer, { path: "/outer" })).text).toBe("root /outer|");
    const mounted = await callApp(router, {
      environ: { SCRIPT_NAME: "/app", PATH_INFO: "/api/v1/y" },
    });
    expect(mounted.text).toBe("v1 /app/api/v1|/y");
  });

  it("answers 404 for a path no mount covers", async () => {
    const onlyApi = validate(urlMap({ "/api": validate(whereAmI("api")) }));
    const response = await callApp(onlyApi, { path: "/elsewhere" });
    expect(response.status).toBe("404 Not Found");
    expect(response.text).toBe("Not Found\n");
    expect((await callApp(onlyApi, { path: "/apix" })).code).toBe(404);
    expect((await callApp(validate(notFound))).header("content-length")).toBe("10");
  });

  it("sends unmatched paths to a fallback app when given one", async () => {
    const app = validate(urlMap({ "/api": whereAmI("api") }, validate(whereAmI("fallback"))));
    expect((await callApp(app, { path: "/x" })).text).toBe("fallback |/x");
  });

  it("refuses a prefix without a leading slash and a prefix mounted twice", () => {
    expect(() => urlMap({ api: whereAmI("api") })).toThrow(/must start with "\/"/);
    expect(() => urlMap({ "/api": whereAmI("a"), "/api/": whereAmI("b") })).toThrow(/twice/);
  });
});
