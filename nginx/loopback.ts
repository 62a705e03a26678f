/**
 * nginx/foobar.conf, pointed at loopback: what the tests and the bench run, without Docker.
 *
 * The shipped config names things that exist only in the compose stack: the gateway's service
 * name (re-resolved at run time, `server gateway:8000 resolve`, which needs nginx >= 1.27.3),
 * ports 8000 and 8443, the certificate in /etc/nginx/tls, Docker's DNS name `wsgi`, and
 * /var/log/nginx. Each is rewritten to this machine's
 * ports and a directory of the caller's — the upstream becomes one fixed loopback address, so
 * the host's older nginx (Debian bookworm's 1.22) runs it too; everything else (the pool,
 * timeouts, forwarded headers, buffering) stays as shipped, so what is tested and measured is
 * the config users run.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";

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
  /** More directives for the server block, after its listen line. */
  serverDirectives?: string;
  /**
   * The HTTPS listener (HTTP/2) on 127.0.0.1, with this certificate and key. Unset: no HTTPS
   * (the shipped TLS listener and certificate lines become comments).
   */
  tls?: { port: number; certificate: string; key: string };
}

/**
 * A line to find, and what to write instead, from its indentation and what follows its value;
 * `optional`: a config without the line is fine (an older one, without HTTPS).
 */
type Rewrite = [
  pattern: RegExp,
  line: (indent: string, parameters: string) => string,
  optional?: boolean,
];

export function loopbackSite(config: string, options: LoopbackOptions): string {
  const { port, upstreamPort, logDir, wsgiPort = 9, keepalive, serverDirectives, tls } = options;
  const rewrites: Rewrite[] = [
    [
      /^(\s*)server\s+[^\s;]+:\d+[^;]*;/m,
      (indent) => `${indent}server 127.0.0.1:${upstreamPort} max_fails=0;`,
    ],
    // The shipped backup line names the same replicas: here, the one gateway above.
    [
      /^(\s*)server\s+[^\s;]+:\d+[^;]*\sbackup;/m,
      (indent) => `${indent}# backup: the same gateway as above`,
      true,
    ],
    // The address changes; its parameters (default_server) stay.
    [
      /^(\s*)listen\s+[^\s;]+([^;]*);/m,
      (indent, parameters) =>
        `${indent}listen 127.0.0.1:${port}${parameters};` +
        (serverDirectives === undefined ? "" : `\n${indent}${serverDirectives}`),
    ],
    // nginx < 1.25.1 (Debian bookworm's 1.22) has no `http2 on`: HTTP/2 is a listen parameter
    // there (newer versions still take it, with a warning).
    [/^(\s*)http2 on;/m, (indent) => `${indent}# http2: on the TLS listen line`, true],
    [
      /^(\s*)listen\s+\d+\s+ssl([^;]*);/m,
      (indent, parameters) =>
        tls === undefined
          ? `${indent}# no TLS listener here`
          : `${indent}listen 127.0.0.1:${tls.port} ssl http2${parameters};`,
      tls === undefined,
    ],
    [
      /^(\s*)ssl_certificate\s+[^;]+;/m,
      (indent) =>
        tls === undefined
          ? `${indent}# no certificate`
          : `${indent}ssl_certificate ${tls.certificate};`,
      tls === undefined,
    ],
    [
      /^(\s*)ssl_certificate_key\s+[^;]+;/m,
      (indent) =>
        tls === undefined ? `${indent}# no key` : `${indent}ssl_certificate_key ${tls.key};`,
      tls === undefined,
    ],
  ];
  if (keepalive !== undefined)
    rewrites.push([/^(\s*)keepalive\s+\d+;/m, (indent) => `${indent}keepalive ${keepalive};`]);
  let result = config;
  for (const [pattern, line, optional = false] of rewrites) {
    if (!pattern.test(result)) {
      if (optional) continue;
      throw new Error(`nginx/foobar.conf: no line matches ${pattern}`);
    }
    // A function, not a replacement string: `$` in a directive (`$remote_addr`) stays as written.
    result = result.replace(pattern, (_line, indent: string, parameters: unknown) =>
      line(indent, typeof parameters === "string" ? parameters : ""),
    );
  }
  return result
    .replace(/set \$wsgi_upstream [^;]+;/g, () => `set $wsgi_upstream 127.0.0.1:${wsgiPort};`)
    .replace(/access_log\s+\/[^\s;]+/g, () => `access_log ${logDir}/access.log`);
}

/**
 * A throw-away self-signed certificate for 127.0.0.1, written to `dir` (tls.crt, tls.key): for
 * the `tls` listener above, in the tests and the bench. ECDSA P-256 like the one
 * nginx/tls-setup.sh makes in the container, valid a day; its key never leaves `dir`.
 */
export function loopbackCertificate(dir: string): { certificate: string; key: string } {
  const [certificate, key] = [join(dir, "tls.crt"), join(dir, "tls.key")];
  try {
    execFileSync(
      "openssl",
      [
        ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
        ...["-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        ...["-keyout", key, "-out", certificate],
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
  } catch (error) {
    throw new Error(
      `cannot make a self-signed certificate in ${dir} (apt-get install openssl): ${(error as Error).message.split("\n")[0]}`,
      { cause: error },
    );
  }
  return { certificate, key };
}
