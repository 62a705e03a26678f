/** `--pid FILE`: the master's PID, for `kill -HUP $(cat FILE)`; removed when the master exits. */
import { readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";

/** True while a process with this PID exists (EPERM: it exists, but is not ours to signal). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * The PID a pidfile names, if that process is running and is not `self`: another master
 * holds the file. Null when there is no file, it names no number, or its process is gone
 * (a master that was killed leaves its pidfile behind).
 */
export function runningPidIn(path: string, self = process.pid): number | null {
  let named: number;
  try {
    named = Number(readFileSync(path, "utf8").trim());
  } catch {
    return null; // no file yet
  }
  return Number.isInteger(named) && named > 0 && named !== self && isRunning(named) ? named : null;
}

export class Pidfile {
  constructor(public path: string) {}

  /** Writes our PID; refuses if the file names another live process (a second master). */
  create(pid: number): void {
    const previous = runningPidIn(this.path, pid);
    if (previous !== null)
      throw new Error(
        `pidfile ${this.path} names a running process (${previous}); already running?`,
      );
    // Write then rename, so a reader never sees a half-written file.
    writeFileSync(`${this.path}.tmp`, `${pid}\n`);
    renameSync(`${this.path}.tmp`, this.path);
  }

  unlink(): void {
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}
