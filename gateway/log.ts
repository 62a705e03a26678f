/**
 * The error log: one line per event, `[time] [pid] [LEVEL] message`, as Gunicorn writes it.
 * It goes to stderr or to a file (`--error-logfile`); `reopen()` is what USR1 calls after a log
 * rotation moved the file away.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { format } from "node:util";
import type { ErrorStream } from "@foobar/tsgi";

export const LEVELS = ["debug", "info", "warning", "error", "critical"] as const;
export type Level = (typeof LEVELS)[number];

/** Opens a log destination: `-` is the given standard stream, anything else a file to append to. */
export class LogFile {
  #fd: number;
  constructor(
    readonly path: string,
    readonly standardFd: number,
  ) {
    this.#fd = this.#open();
  }
  #open(): number {
    return this.path === "-" ? this.standardFd : openSync(this.path, "a");
  }
  write(text: string): void {
    try {
      writeSync(this.#fd, text);
    } catch {
      // A log that cannot be written must not take the server down with it.
    }
  }
  reopen(): void {
    if (this.path === "-") return;
    const old = this.#fd;
    this.#fd = this.#open();
    closeSync(old);
  }
}

function timestamp(): string {
  const now = new Date();
  const pad = (n: number) => String(n).padStart(2, "0");
  return (
    `${now.getUTCFullYear()}-${pad(now.getUTCMonth() + 1)}-${pad(now.getUTCDate())} ` +
    `${pad(now.getUTCHours())}:${pad(now.getUTCMinutes())}:${pad(now.getUTCSeconds())} +0000`
  );
}

export class Logger {
  #threshold: number;
  constructor(
    readonly file: LogFile = new LogFile("-", 2),
    level: Level = "info",
  ) {
    this.#threshold = LEVELS.indexOf(level);
  }

  isEnabled(level: Level): boolean {
    return LEVELS.indexOf(level) >= this.#threshold;
  }

  log(level: Level, message: string, ...args: unknown[]): void {
    if (!this.isEnabled(level)) return;
    const text = args.length > 0 ? format(message, ...args) : message;
    this.file.write(`[${timestamp()}] [${process.pid}] [${level.toUpperCase()}] ${text}\n`);
  }
  debug(message: string, ...args: unknown[]): void {
    this.log("debug", message, ...args);
  }
  info(message: string, ...args: unknown[]): void {
    this.log("info", message, ...args);
  }
  warning(message: string, ...args: unknown[]): void {
    this.log("warning", message, ...args);
  }
  error(message: string, ...args: unknown[]): void {
    this.log("error", message, ...args);
  }
  critical(message: string, ...args: unknown[]): void {
    this.log("critical", message, ...args);
  }

  /** `tsgi.errors` for apps: what they write lands in this log, unchanged. */
  errorStream(): ErrorStream {
    const file = this.file;
    return {
      write: (text: string) => file.write(text),
      writelines: (lines: Iterable<string>) => {
        for (const line of lines) file.write(line);
      },
      flush: () => {},
    };
  }
}

/** The stack of an error, or its string form for thrown non-errors. */
export function describeError(error: unknown): string {
  return error instanceof Error
    ? (error.stack ?? `${error.name}: ${error.message}`)
    : String(error);
}
