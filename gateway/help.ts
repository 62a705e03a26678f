/**
 * What the gateway prints about its settings: `--help` and `--print-config`, both generated
 * from the table in settings.ts.
 */
import type { LoadedConfig } from "./config.js";
import { HOOK_NAMES } from "./hooks.js";
import { SETTINGS } from "./settings.js";
import { STATUS_USAGE } from "./status-command.js";

export function helpText(): string {
  const lines = [
    "usage: gateway [options] MODULE[:EXPORT]",
    "",
    "Serve the TSGI application exported by MODULE (default export unless :EXPORT is given)",
    "with a master process and N worker processes, as Gunicorn serves WSGI.",
    "",
  ];
  let section = "";
  for (const spec of SETTINGS) {
    if (spec.flag === undefined) continue;
    if (spec.section !== section) {
      section = spec.section;
      lines.push(`${section}:`);
    }
    const flags = `${spec.short ? `-${spec.short}, ` : "    "}--${spec.flag}${spec.meta ? ` ${spec.meta}` : ""}`;
    lines.push(`  ${flags.padEnd(34)} ${spec.description}`);
    lines.push(`  ${"".padEnd(34)} [default: ${spec.defaultText}]`);
  }
  lines.push(
    "Other:",
    `  ${"-h, --help".padEnd(34)} Show this help and exit.`,
    `  ${"-v, --version".padEnd(34)} Show the version and exit.`,
    "",
    "Signals to the master: TERM graceful stop, INT/QUIT quick stop, HUP reload,",
    "TTIN/TTOU one worker more/less, USR1 reopen log files. See docs/gateway.md.",
    "",
    STATUS_USAGE,
  );
  return lines.join("\n");
}

export function printConfig(config: LoadedConfig): string {
  const lines: string[] = [];
  for (const spec of SETTINGS)
    lines.push(`${spec.name.padEnd(26)} = ${JSON.stringify(config.settings[spec.name])}`);
  for (const hook of HOOK_NAMES)
    lines.push(`${hook.padEnd(26)} = ${config.hooks[hook] ? "<function>" : "<default>"}`);
  return lines.join("\n") + "\n";
}
