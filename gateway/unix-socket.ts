/**
 * A unix socket file left behind, and whether anything still answers on it: the one probe that
 * the start-up checks (startup.ts, which refuses an address another server owns) and the master
 * (arbiter.ts, which removes a stale file before it listens) both use.
 */
import { lstatSync, unlinkSync } from "node:fs";
import { connect } from "node:net";

/** True if a server answers on the unix socket at `path`. */
export function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path, () => {
      probe.destroy();
      resolve(true);
    });
    probe.on("error", () => resolve(false));
  });
}

/**
 * A unix socket file left by a master that was killed makes listen() fail with EADDRINUSE.
 * Remove it — but only if nothing answers on it (another server may own it).
 */
export async function removeStaleSocket(path: string): Promise<void> {
  try {
    if (!lstatSync(path).isSocket()) return;
  } catch {
    return; // no such file
  }
  if (!(await socketAnswers(path))) unlinkSync(path);
}
