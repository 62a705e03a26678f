/**
 * Finds the application: `MODULE:EXPORT`, as Gunicorn's `module:variable`. MODULE is a file
 * path (relative to the working directory) or a package name; EXPORT defaults to the module's
 * default export.
 *
 * Finding the module (`locateApp`) is separate from importing it, so the master can refuse a
 * module that does not exist — with a hint for Gunicorn habits: `app.hello` (a dotted module),
 * `app/hello` (no extension), `app/hello.ts` (not compiled) — before any worker starts, without
 * running the app's code. When an import fails, `describeImportError` names the file, line and
 * column: Node's SyntaxError from a dynamic import carries none of them.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, extname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Application } from "@foobar/tsgi";

/** The app could not be found or loaded: one line for the terminal, and maybe a hint. */
export class AppImportError extends Error {
  override name = "AppImportError";
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

export function parseAppUri(uri: string): { module: string; exportName: string } {
  // Split on the last ':' that is not part of a Windows drive letter or a URL scheme.
  const colon = uri.lastIndexOf(":");
  if (colon > 1 && !uri.slice(colon).startsWith("://")) {
    const exportName = uri.slice(colon + 1);
    if (!/^[A-Za-z_$][\w$]*$/.test(exportName))
      throw new AppImportError(
        `'${exportName}' is not a valid export name in '${uri}'`,
        /\(.*\)$/.test(exportName)
          ? "export the application itself: a factory call (Gunicorn's module:create_app()) is not run; e.g. export const app = create_app();"
          : "EXPORT is the name of a JavaScript export, e.g. app.js:app",
      );
    return { module: uri.slice(0, colon), exportName };
  }
  return { module: uri, exportName: "default" };
}

/** Where an app lives: the specifier to import, and its file when it is one. */
export interface AppLocation {
  module: string;
  exportName: string;
  specifier: string;
  path: string | null;
}

const TYPESCRIPT = new Set([".ts", ".tsx", ".mts", ".cts"]);
const JAVASCRIPT = [".js", ".mjs", ".cjs"];

/** `app.hello`: a Python habit (Gunicorn's dotted module), not a file name such as `hello.js`. */
function isDottedModule(name: string): boolean {
  return (
    /^[A-Za-z_$][\w$-]*(\.[A-Za-z_$][\w$-]*)+$/.test(name) && !JAVASCRIPT.includes(extname(name))
  );
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function display(path: string): string {
  const fromHere = relative(process.cwd(), path);
  return fromHere.startsWith("..") ? path : fromHere;
}

/** Files the user may have meant by a MODULE that is not a file: first that exists. */
function meant(module: string): string | undefined {
  const base = TYPESCRIPT.has(extname(module)) ? module.slice(0, -extname(module).length) : module;
  const stems = [base, ...(isDottedModule(base) ? [base.replace(/\./g, "/")] : [])];
  // A compiled module sits beside its source, or in the dist/ of its folder or of the project.
  const places = (stem: string) => [
    stem,
    join(dirname(stem), "dist", basename(stem)),
    join("dist", stem),
  ];
  for (const stem of stems)
    for (const place of places(stem))
      for (const extension of JAVASCRIPT) {
        const candidate = `${place}${extension}`;
        if (isFile(resolve(candidate))) return candidate;
      }
  return undefined;
}

/**
 * The file URL of an installed package (or one of its exports): looked up from the working
 * directory, as the project sees it; failing that (an exports map with only an "import"
 * condition, which require's lookup cannot match), from the gateway's own place, which is the
 * project's node_modules when the gateway is installed there.
 */
function resolveInstalled(specifier: string): string | null {
  try {
    const fromProject = createRequire(join(process.cwd(), "noop.js"));
    return pathToFileURL(fromProject.resolve(specifier)).href;
  } catch {
    try {
      return import.meta.resolve(specifier);
    } catch {
      return null;
    }
  }
}

/**
 * Finds MODULE without importing it. Throws AppImportError with a hint when it is not there
 * (or is TypeScript, which Node 20 cannot run).
 */
export function locateApp(uri: string): AppLocation {
  const { module, exportName } = parseAppUri(uri);
  const suffix = exportName === "default" ? "" : `:${exportName}`;
  const path = resolve(module);
  const extension = extname(module);
  const guess = meant(module);
  if (TYPESCRIPT.has(extension))
    throw new AppImportError(
      `app ${module}: Node 20 runs JavaScript, not TypeScript`,
      guess !== undefined
        ? `did you mean ${guess}${suffix}? (npm run build compiles each package's .ts files into its dist/)`
        : "compile it first (npm run build, or tsc) and name the .js file it becomes",
    );
  if (existsSync(path)) {
    if (!isFile(path))
      throw new AppImportError(
        `app ${module}: is a directory, not a module`,
        isFile(join(path, "index.js"))
          ? `name the file: ${join(module, "index.js")}${suffix}`
          : "name the module's file, e.g. app/hello.js",
      );
    return { module, exportName, specifier: pathToFileURL(path).href, path };
  }
  // A bare specifier (`my-app`, `@scope/pkg/sub`) may be an installed package, looked up from
  // the working directory as Gunicorn imports from its own (resolveInstalled).
  const bare = !module.startsWith(".") && !module.startsWith("/") && !/^[A-Za-z]:/.test(module);
  const dotted = isDottedModule(module);
  if (bare) {
    const installed = resolveInstalled(module);
    if (installed !== null) return { module, exportName, specifier: installed, path: null };
  }
  const looksLikePath =
    (/[\\/]/.test(module) && !module.startsWith("@")) || !bare || extension !== "";
  let hint: string;
  if (dotted)
    hint =
      `MODULE is a file path, not a Python dotted module` +
      (guess !== undefined
        ? `: did you mean ${guess}${suffix}?`
        : `, e.g. ${module.replace(/\./g, "/")}.js`);
  else if (guess !== undefined)
    hint = `did you mean ${guess}${suffix}? (ES modules are named with their extension)`;
  else
    hint = `MODULE is a file path from ${process.cwd()} (with its extension) or an installed package`;
  throw new AppImportError(
    looksLikePath && !dotted
      ? `app ${module}: no such file`
      : `app ${module}: no such file or installed package`,
    hint,
  );
}

/** Imports the app afresh; `cacheBust` makes a reload see new code in a long-lived process. */
export async function loadApp(uri: string, cacheBust?: string): Promise<Application> {
  const location = locateApp(uri);
  const { module, exportName } = location;
  let specifier = location.specifier;
  if (location.path !== null && cacheBust !== undefined) specifier += `?v=${cacheBust}`;
  let namespace: Record<string, unknown>;
  try {
    namespace = (await import(specifier)) as Record<string, unknown>;
  } catch (error) {
    throw new AppImportError(
      `Failed to import app module '${module}': ${describeImportError(error, location.path)}`,
    );
  }
  const app = namespace[exportName];
  if (app === undefined)
    throw new AppImportError(
      `Module '${module}' has no export '${exportName}'`,
      `its exports: ${Object.keys(namespace).join(", ") || "none"}; name one as ${module}:NAME`,
    );
  if (typeof app !== "function")
    throw new AppImportError(`'${uri}' is ${typeof app}, not an application function`);
  return app as Application;
}

// ---- where an import failed ----

/** A stack frame's location: `file:///a/b.js:3:7` (ES module) or `/a/b.js:3:7` (CommonJS). */
const FRAME_IN_FILE = /(?:\(|at )((?:file:\/\/)?\/[^\s()]+?):(\d+):(\d+)\)?$/;
const GATEWAY_DIR = dirname(fileURLToPath(import.meta.url));

/** The first frame of a stack in a file that is not the gateway's own code, as FILE:LINE:COL. */
function firstOwnFrame(stack: string): string | null {
  for (const line of stack.split("\n").slice(1)) {
    const frame = FRAME_IN_FILE.exec(line.trim());
    if (frame === null) continue;
    const [, location = "", row, column] = frame;
    const path = location.startsWith("file:") ? fileURLToPath(location) : location;
    if (path.startsWith(GATEWAY_DIR)) continue;
    return `${display(path)}:${row}:${column}`;
  }
  return null;
}

/**
 * One line for an error thrown while importing `path`: a syntax error as
 * `FILE:LINE:COLUMN: SyntaxError: …`; anything else as `Name: message (at FILE:LINE:COLUMN)`,
 * the first frame in a file (the module's own code, or what it imports).
 */
export function describeImportError(error: unknown, path: string | null): string {
  if (!(error instanceof Error)) return String(error).split("\n")[0] ?? "";
  const message = error.message.split("\n")[0] ?? "";
  const frame = firstOwnFrame(error.stack ?? "");
  if (error.name === "SyntaxError" && frame === null && path !== null) {
    const found = findSyntaxError(path);
    if (found !== null) return found;
    return `SyntaxError: ${message} (in ${display(path)} or a module it imports)`;
  }
  const name = error.name === "Error" ? "" : `${error.name}: `;
  return frame === null ? `${name}${message}` : `${name}${message} (at ${frame})`;
}

/** Relative imports of an ES module, found by a scan of its text (no parse needed). */
function relativeImports(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const match of text.matchAll(/\b(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"'\n]+)["']/g)) {
    const target = resolve(dirname(file), match[1]!);
    if (isFile(target)) found.push(target);
  }
  return found;
}

/**
 * A .js file outside a "type": "module" package is still an ES module to the gateway. Node 20
 * needs a flag to check it as one; Node >= 22.7 detects module syntax by itself and has dropped
 * the flag (Node 24 refuses to start with it).
 */
const CHECK_AS_MODULE = process.allowedNodeEnvironmentFlags.has("--experimental-default-type")
  ? ["--experimental-default-type=module"]
  : [];

/**
 * Looks for the syntax error in `entry` and the modules it imports, with `node --check` (V8's
 * own verdict, file:line and caret; it never runs the code). A child process per file costs
 * ~50 ms on an idle machine, and only ever runs after an import has failed.
 */
function findSyntaxError(entry: string): string | null {
  const queue = [entry];
  const seen = new Set(queue);
  const deadline = Date.now() + 5000;
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    if (seen.size > 50 || Date.now() > deadline) return null;
    try {
      execFileSync(process.execPath, [...CHECK_AS_MODULE, "--check", file], {
        stdio: ["ignore", "ignore", "pipe"],
        timeout: Math.max(1, deadline - Date.now()),
      });
    } catch (error) {
      const stderr = String((error as { stderr?: Buffer }).stderr ?? "");
      const lines = stderr.split("\n");
      const where = /^(.*):(\d+)$/.exec(lines[0] ?? "");
      const caret = (lines[2] ?? "").indexOf("^");
      const reason = lines.find((line) => line.startsWith("SyntaxError:"));
      if (where !== null && reason !== undefined)
        return `${display(file)}:${where[2]}${caret >= 0 ? `:${caret + 1}` : ""}: ${reason}`;
      continue;
    }
    for (const next of relativeImports(file))
      if (!seen.has(next)) {
        seen.add(next);
        queue.push(next);
      }
  }
  return null;
}
