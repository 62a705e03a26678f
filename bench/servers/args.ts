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
