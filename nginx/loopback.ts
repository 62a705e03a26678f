/**
 * nginx/foobar.conf, pointed at loopback: what the tests and the bench run, without Docker.
 *
 * The shipped config names things that exist only in the compose stack: the file of replica
 * addresses that follow-upstreams.sh writes, port 8000, Docker's DNS name `wsgi`, and
 * /var/log/nginx. Each is rewritten to this machine's ports and a directory of the caller's;
 * everything else (the pool, timeouts, forwarded headers, buffering) stays as shipped, so what
 * is tested and measured is the config users run.
 */
export interface LoopbackOptions {
  /** The port nginx listens on, on 127.0.0.1. */
  port: number;
  /** The gateway's port on 127.0.0.1: the upstream's one server. */
  upstreamPort: number;
  /** Where the access log is written. */
  logDir: string;
  /** Gunicorn's port for /wsgi/ (unset: port 9, which is closed, so /wsgi/ answers 502). */
  wsgiPort?: number;
  /** A pool size to use instead of the shipped `keepalive`. */
  keepalive?: number;
  /** More directives for the server block, after its listen line (e.g. a TLS listener). */
  serverDirectives?: string;
}

/** A line to find, and what to write instead, from its indentation and what follows its value. */
type Rewrite = [pattern: RegExp, line: (indent: string, parameters: string) => string];

export function loopbackSite(config: string, options: LoopbackOptions): string {
  const { port, upstreamPort, logDir, wsgiPort = 9, keepalive, serverDirectives } = options;
  const rewrites: Rewrite[] = [
    [
      /^(\s*)(?:include\s+\/etc\/nginx\/foobar-upstreams\/[^;]+|server\s+[^\s;]+:\d+[^;]*);/m,
      (indent) => `${indent}server 127.0.0.1:${upstreamPort} max_fails=0;`,
    ],
    // The address changes; its parameters (default_server) stay.
    [
      /^(\s*)listen\s+[^\s;]+([^;]*);/m,
      (indent, parameters) =>
        `${indent}listen 127.0.0.1:${port}${parameters};` +
        (serverDirectives === undefined ? "" : `\n${indent}${serverDirectives}`),
    ],
  ];
  if (keepalive !== undefined)
    rewrites.push([/^(\s*)keepalive\s+\d+;/m, (indent) => `${indent}keepalive ${keepalive};`]);
  let result = config;
  for (const [pattern, line] of rewrites) {
    if (!pattern.test(result)) throw new Error(`nginx/foobar.conf: no line matches ${pattern}`);
    // A function, not a replacement string: `$` in a directive (`$remote_addr`) stays as written.
    result = result.replace(pattern, (_line, indent: string, parameters: unknown) =>
      line(indent, typeof parameters === "string" ? parameters : ""),
    );
  }
  return result
    .replace(/set \$wsgi_upstream [^;]+;/g, () => `set $wsgi_upstream 127.0.0.1:${wsgiPort};`)
    .replace(/access_log\s+\/[^\s;]+/g, () => `access_log ${logDir}/access.log`);
}
