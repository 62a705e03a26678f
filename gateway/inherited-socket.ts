/**
 * A listening socket the gateway did not open but inherited by number (`--bind fd://3`): what
 * systemd's socket activation hands a service (its first socket is descriptor 3), or any
 * supervisor that opens the port before it starts the gateway.
 *
 * Why use one: the socket outlives every process of ours. The supervisor keeps its copy, so the
 * kernel keeps completing handshakes and queueing connections while workers come and go — and
 * while the whole gateway restarts: a `systemctl restart` refuses no client; the next master's
 * workers take the queued connections.
 *
 * How the workers get it: each is started with the master's descriptor under the same number
 * (`inheritedSocketStdio`) and listens on its own copy. (Node's cluster module would share it
 * through the master instead, but it closes the master's copy once no worker listens, and a
 * worker started after that would find the number closed.)
 */
import { fstatSync } from "node:fs";
import type { Server } from "node:http";
import { Socket } from "node:net";
import { parseAddress } from "./addresses.js";

/** Checks, in the master, that `fd` is open and a socket; the message says what to do if not. */
export function checkInheritedSocket(fd: number): void {
  let isSocket: boolean;
  try {
    isSocket = fstatSync(fd).isSocket();
  } catch {
    throw new Error(
      `descriptor ${fd} is not open: start the gateway with a listening socket there (systemd: a .socket unit)`,
    );
  }
  if (!isSocket) throw new Error(`descriptor ${fd} is not a socket`);
}

/** Listens on the inherited TCP socket `fd` (this process's own copy). */
export function listenOnInheritedSocket(server: Server, fd: number, onListening: () => void): void {
  const socket = new Socket({ fd, readable: false, writable: false });
  // Node listens on a TCP socket given as a handle; a unix socket it would hand to the cluster
  // module, whose copy in the master closes with the last worker (see above).
  if (!("port" in socket.address()))
    throw new Error(
      `descriptor ${fd} is not a TCP socket (for a unix socket, use --bind unix:PATH)`,
    );
  server.listen(socket, onListening);
}

type StdioEntry = number | "inherit" | "ignore" | "ipc";

/**
 * The workers' stdio: the master's own standard streams, and each inherited socket of `binds`
 * under its own number. Undefined (Node's default) when no bind is inherited.
 */
export function inheritedSocketStdio(binds: readonly string[]): StdioEntry[] | undefined {
  const fds: number[] = [];
  for (const bind of binds) {
    const address = parseAddress(bind);
    if ("fd" in address) fds.push(address.fd);
  }
  if (fds.length === 0) return undefined;
  const stdio: StdioEntry[] = ["inherit", "inherit", "inherit"];
  for (let fd = 3; fd <= Math.max(...fds); fd++) stdio.push(fds.includes(fd) ? fd : "ignore");
  stdio.push("ipc");
  return stdio;
}

/**
 * systemd passed this process sockets (`LISTEN_FDS`, for `LISTEN_PID`) that no address of
 * `addresses` takes: the warning to log, else null. (Without it, the gateway would try to bind
 * the socket unit's port itself and fail with "address in use", which names the wrong cause.)
 */
export function unusedSystemdSockets(
  addresses: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): string | null {
  const count = Number(env.LISTEN_FDS);
  if (env.LISTEN_PID !== String(process.pid) || !(count > 0)) return null;
  if (addresses.some((address) => "fd" in parseAddress(address))) return null;
  return count === 1
    ? "systemd passed a listening socket (LISTEN_FDS=1) that no address uses: --bind fd://3"
    : `systemd passed ${count} listening sockets (LISTEN_FDS=${count}) that no address uses: --bind fd://3 to fd://${2 + count}`;
}
