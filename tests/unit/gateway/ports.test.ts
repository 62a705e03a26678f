/**
 * One rule for a port number, 0 to 65535, wherever a port is written: in an address
 * (--bind, --metrics-bind, a config file) and in $PORT. Each source must accept and refuse
 * the same ports with the same words.
 */
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../gateway/config.js";

const FROM_ADDRESS = (port: string) =>
  loadConfig(["--metrics-bind", `127.0.0.1:${port}`, "app.js"], { GATEWAY_CMD_ARGS: "" });
const FROM_PORT = (port: string) => loadConfig(["app.js"], { GATEWAY_CMD_ARGS: "", PORT: port });

describe("port numbers", () => {
  it.each(["0", "1", "8000", "65535", "065535"])(
    "accepts %s from an address and from $PORT",
    async (port) => {
      expect((await FROM_ADDRESS(port)).settings.metrics_bind).toBe(`127.0.0.1:${port}`);
      expect((await FROM_PORT(port)).settings.bind).toEqual([`0.0.0.0:${Number(port)}`]);
    },
  );

  it.each(["65536", "99999", "100000000000000000000"])(
    "refuses %s from an address and from $PORT, in the same words",
    async (port) => {
      const rule = `port '${port}'`;
      await expect(FROM_ADDRESS(port)).rejects.toThrow(
        `--metrics-bind: ${rule} in '127.0.0.1:${port}' is not a number from 0 to 65535`,
      );
      await expect(FROM_PORT(port)).rejects.toThrow(
        `$PORT (--bind): ${rule} is not a number from 0 to 65535`,
      );
    },
  );

  it.each(["-1", "8o", "1e3", "0x50"])("refuses $PORT=%j, not a port number", async (port) => {
    await expect(FROM_PORT(port)).rejects.toThrow(
      /^\$PORT \(--bind\): port '.*' is not a number from 0 to 65535$/,
    );
  });
});
