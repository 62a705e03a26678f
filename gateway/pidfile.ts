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

export class Pidfile {
  constructor(public path: string) {}

  /** Writes our PID; refuses if the file names another live process (a second master). */
  create(pid: number): void {
    let previous = NaN;
    try {
      previous = Number(readFileSync(this.path, "utf8").trim());
    } catch {
      // no file yet
    }
    if (Number.isInteger(previous) && previous !== pid && previous > 0 && isRunning(previous))
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
