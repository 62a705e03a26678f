/**
 * Finds the application: `MODULE:EXPORT`, as Gunicorn's `module:variable`. MODULE is a file
 * path (relative to the working directory) or a package name; EXPORT defaults to the module's
 * default export.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Application } from "../tsgi/types.js";

/** The app could not be loaded; the message is one line, fit for a terminal. */
export class AppImportError extends Error {
  override name = "AppImportError";
}

export function parseAppUri(uri: string): { module: string; exportName: string } {
  // Split on the last ':' that is not part of a Windows drive letter or a URL scheme.
  const colon = uri.lastIndexOf(":");
  if (colon > 1 && !uri.slice(colon).startsWith("://")) {
    const exportName = uri.slice(colon + 1);
    if (!/^[A-Za-z_$][\w$]*$/.test(exportName))
      throw new AppImportError(`'${exportName}' is not a valid export name in '${uri}'`);
    return { module: uri.slice(0, colon), exportName };
  }
  return { module: uri, exportName: "default" };
}

/** Imports the app afresh; `cacheBust` makes a reload see new code in a long-lived process. */
export async function loadApp(uri: string, cacheBust?: string): Promise<Application> {
  const { module, exportName } = parseAppUri(uri);
  const path = resolve(module);
  const isFile = existsSync(path);
  let specifier = isFile ? pathToFileURL(path).href : module;
  if (isFile && cacheBust !== undefined) specifier += `?v=${cacheBust}`;
  let namespace: Record<string, unknown>;
  try {
    namespace = (await import(specifier)) as Record<string, unknown>;
  } catch (error) {
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new AppImportError(`Failed to import app module '${module}': ${reason}`);
  }
  const app = namespace[exportName];
  if (app === undefined)
    throw new AppImportError(`Module '${module}' has no export '${exportName}'`);
  if (typeof app !== "function")
    throw new AppImportError(`'${uri}' is ${typeof app}, not an application function`);
  return app as Application;
}
