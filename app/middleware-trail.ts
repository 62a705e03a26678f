/**
 * The smallest useful middleware: it notes its name in `environ["demo.trail"]` and calls the
 * app it wraps, changing nothing else. Stacked, the trail shows the path a request took through
 * the middleware (`["demo", "router", "xslt"]`); the teaching page and the environ view show it.
 */
import type { Environ, Middleware } from "@foobar/tsgi";

export const TRAIL_KEY = "demo.trail";

/** The names recorded so far for this request (empty if none). */
export function trailOf(environ: Environ): string[] {
  const trail = environ[TRAIL_KEY];
  return Array.isArray(trail) ? trail.map(String) : [];
}

export function trail(name: string): Middleware {
  return (app) =>
    function recordTrail(environ, startResponse) {
      environ[TRAIL_KEY] = [...trailOf(environ), name];
      return app(environ, startResponse);
    };
}
