/**
 * What issue 25's hardening looks like on a running container, for the compose and Swarm tests:
 * the settings Docker holds for it (`docker inspect`), and what they do, seen from inside (a
 * write to the root filesystem refused; every process non-root, without capabilities, unable to
 * gain privileges).
 */
import { spawnSync } from "node:child_process";
import { expect } from "vitest";
import { docker } from "./engine.js";

export interface Inspected {
  Id: string;
  Config: { Labels: Record<string, string>; User: string };
  HostConfig: {
    ReadonlyRootfs: boolean;
    CapDrop: string[] | null;
    SecurityOpt: string[] | null;
    Memory: number;
    PidsLimit: number | null;
    Tmpfs?: Record<string, string> | null;
    Mounts?: { Type: string; Target: string }[] | null;
  };
}

export function inspectContainer(id: string): Inspected {
  return (JSON.parse(docker(["inspect", id])) as Inspected[])[0]!;
}

/** The settings every container has (compose.yaml's `x-hardened` and limits). */
export const HARDENED = {
  readOnly: true,
  capDrop: ["ALL"],
  noNewPrivileges: true,
  memoryLimited: true,
  pidsLimited: true,
};

export function hardeningOf({ HostConfig: host }: Inspected) {
  return {
    readOnly: host.ReadonlyRootfs,
    capDrop: host.CapDrop,
    noNewPrivileges: (host.SecurityOpt ?? []).includes("no-new-privileges:true"),
    memoryLimited: host.Memory > 0,
    pidsLimited: (host.PidsLimit ?? 0) > 0,
    tmpfs: Object.keys(host.Tmpfs ?? {}).sort(),
  };
}

/** Every process in a container as /proc shows it from inside: its uids, capabilities, no_new_privs. */
export function processesOf(id: string) {
  const status = docker([
    ...["exec", id, "sh", "-c"],
    'grep -H -E "^(Uid|CapEff|NoNewPrivs):" /proc/[0-9]*/status',
  ]);
  const byPid = new Map<
    string,
    { pid: string; uids: string[]; capEff: string; noNewPrivs: string }
  >();
  for (const line of status.split("\n")) {
    const match = /^\/proc\/(\d+)\/status:(\w+):\s+(.*)$/.exec(line);
    if (match === null) continue;
    const [, pid, field, value] = match as unknown as [string, string, string, string];
    const entry = byPid.get(pid) ?? { pid, uids: [], capEff: "", noNewPrivs: "" };
    if (field === "Uid") entry.uids = value.split(/\s+/);
    if (field === "CapEff") entry.capEff = value;
    if (field === "NoNewPrivs") entry.noNewPrivs = value;
    byPid.set(pid, entry);
  }
  return [...byPid.values()];
}

/**
 * The container's root filesystem refuses a write, and every process in it (the `sh` reading
 * /proc included) is non-root and holds no capability; with `noNewPrivileges` (not on Docker
 * 20.10's Swarm), none can gain privileges either. docker top, from the host's side, agrees on
 * the uids.
 */
export function expectConfinedProcesses(id: string, label: string, noNewPrivileges = true): void {
  const write = spawnSync("docker", ["exec", id, "sh", "-c", "touch /probe"], { encoding: "utf8" });
  expect(write.status, label).not.toBe(0);
  expect(write.stderr, label).toContain("Read-only file system");
  const processes = processesOf(id);
  expect(processes.length, label).toBeGreaterThan(1);
  for (const process of processes)
    expect({ label, ...process }, process.pid).toEqual({
      label,
      pid: process.pid,
      uids: expect.not.arrayContaining(["0"]) as unknown,
      capEff: "0000000000000000",
      noNewPrivs: noNewPrivileges ? "1" : "0",
    });
  const uids = docker(["top", id, "-o", "pid,uid"]).split("\n").slice(1);
  expect(uids.length, label).toBeGreaterThan(0);
  for (const line of uids) expect(line.trim().split(/\s+/)[1], `${label}: ${line}`).not.toBe("0");
}
