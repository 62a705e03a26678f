import cluster from "node:cluster";

/** `PORT [WORKERS]` for the bench's own server scripts; WORKERS 0 (or absent) = one process. */
export function parseServerArgs(argv: string[]): { port: number; workers: number } {
  const port = Number(argv[0]);
  const workers = Number(argv[1] ?? 0);
  if (!Number.isInteger(port) || port <= 0 || !Number.isInteger(workers) || workers < 0) {
    process.stderr.write("usage: SERVER PORT [WORKERS]\n");
    process.exit(2);
  }
  return { port, workers };
}

/**
 * Runs `serve(port)` in this process, or — with WORKERS > 0 — in that many `cluster` workers
 * (Node's default scheduling: the primary accepts, workers serve). TERM stops them all.
 */
export async function serveFromArgs(
  argv: string[],
  serve: (port: number) => void | Promise<void>,
): Promise<void> {
  const { port, workers } = parseServerArgs(argv);
  if (workers > 0 && cluster.isPrimary) {
    for (let i = 0; i < workers; i++) cluster.fork();
    process.on("SIGTERM", () => {
      for (const worker of Object.values(cluster.workers ?? {})) worker?.kill();
      process.exit(0);
    });
  } else await serve(port);
}
