/**
 * The shape of the code base, checked: no import cycle anywhere in the tree, and the layers
 * import only downwards — tsgi/ (the contract) imports nothing of ours outside itself, app/
 * never imports gateway/ and gateway/ never imports app/, the validator shares no code
 * with the response engine it checks, and the master process loads none of the request path
 * its workers run.
 *
 * Imports are read with the TypeScript compiler's own pre-processor (type-only imports,
 * re-exports and dynamic `import()` with a literal count: a cycle of types is still a cycle
 * for a reader).
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const SKIP = new Set(["node_modules", "dist", "coverage", ".git"]);
const SOURCE = /\.(ts|mts|mjs)$/;

function sourceFiles(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(entry.name) || entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...sourceFiles(path));
    else if (SOURCE.test(entry.name) && !entry.name.endsWith(".d.ts")) files.push(path);
  }
  return files;
}

/** Our packages, by name: their folder and exports map (package.json of tsgi/, gateway/, app/). */
const PACKAGES = ["tsgi", "gateway", "app"].map((folder) => {
  const manifest = JSON.parse(readFileSync(join(ROOT, folder, "package.json"), "utf8")) as {
    name: string;
    dependencies?: Record<string, string>;
    exports: Record<string, string | Record<string, string>>;
  };
  return { folder, ...manifest };
});

/** `@foobar/tsgi/rules` → the source file its exports map names for "@foobar/source". */
function resolvePackageImport(specifier: string): string | null {
  for (const { folder, name, exports } of PACKAGES) {
    if (specifier !== name && !specifier.startsWith(`${name}/`)) continue;
    const entry = exports[`.${specifier.slice(name.length)}`];
    const source = typeof entry === "object" ? entry["@foobar/source"] : undefined;
    if (source === undefined) throw new Error(`${specifier}: not in ${name}'s exports map`);
    return join(ROOT, folder, source);
  }
  return null;
}

/**
 * `./x.js` from `dir` (or `@foobar/tsgi/x`) → the source file it names (`./x.ts`), or null if
 * not one of ours.
 */
function resolveImport(dir: string, specifier: string, known: Set<string>): string | null {
  if (specifier.startsWith("@foobar/")) return resolvePackageImport(specifier);
  if (!specifier.startsWith(".")) return null;
  const target = resolve(dir, specifier);
  for (const candidate of [
    target,
    target.replace(/\.js$/, ".ts"),
    target.replace(/\.mjs$/, ".mts"),
    `${target}.ts`,
  ])
    if (known.has(candidate)) return candidate;
  return null;
}

/** Every source file of the repository → the source files it imports. */
function importGraph(): Map<string, string[]> {
  const files = sourceFiles(ROOT);
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const info = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
    const targets = info.importedFiles
      .map(({ fileName }) => resolveImport(dirname(file), fileName, known))
      .filter((target): target is string => target !== null);
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** The strongly connected components with more than one file, or a file importing itself. */
function cycles(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter);
    counter++;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, index.get(next)!));
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || (graph.get(node) ?? []).includes(node)) found.push(component);
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found.map((component) => component.map((file) => relative(ROOT, file)).sort());
}

const graph = importGraph();
const name = (file: string) => relative(ROOT, file);

/** The files `file` reaches through its imports, itself excluded. */
function reachable(file: string): Set<string> {
  const seen = new Set<string>();
  const todo = [...(graph.get(file) ?? [])];
  while (todo.length > 0) {
    const next = todo.pop()!;
    if (seen.has(next)) continue;
    seen.add(next);
    todo.push(...(graph.get(next) ?? []));
  }
  return seen;
}

function importsOf(prefix: string): [string, string][] {
  return [...graph]
    .filter(([file]) => name(file).startsWith(prefix))
    .flatMap(([file, targets]) =>
      targets.map((target): [string, string] => [name(file), name(target)]),
    );
}

describe("imports", () => {
  it("reads the real tree (the graph is not empty)", () => {
    expect(graph.size).toBeGreaterThan(50);
    expect(graph.get(join(ROOT, "gateway/startup.ts"))).toContain(join(ROOT, "gateway/config.ts"));
  });

  it("finds a cycle when there is one (the checker itself works)", () => {
    const a = "/a.ts";
    const b = "/b.ts";
    const c = "/c.ts";
    expect(
      cycles(
        new Map([
          [a, [b]],
          [b, [c]],
          [c, [a]],
        ]),
      ),
    ).toHaveLength(1);
    expect(
      cycles(
        new Map([
          [a, [b]],
          [b, [c]],
          [c, []],
        ]),
      ),
    ).toEqual([]);
  });

  it("has no cycle anywhere in the tree", () => {
    expect(cycles(graph)).toEqual([]);
  });

  it("tsgi/ imports nothing of ours outside tsgi/", () => {
    const outside = importsOf("tsgi/").filter(([, target]) => !target.startsWith("tsgi/"));
    expect(outside).toEqual([]);
  });

  it("app/ and gateway/ never import each other", () => {
    const crossing = [
      ...importsOf("app/").filter(([, target]) => target.startsWith("gateway/")),
      ...importsOf("gateway/").filter(([, target]) => target.startsWith("app/")),
    ];
    expect(crossing).toEqual([]);
  });

  it("reads an import by package name as an import of that package's source", () => {
    expect(graph.get(join(ROOT, "gateway/handler.ts"))).toContain(
      join(ROOT, "tsgi/response-engine.ts"),
    );
  });

  it("each package imports only Node's modules, itself and what its package.json declares", () => {
    const undeclared = PACKAGES.flatMap(({ folder, name: packageName, dependencies = {} }) =>
      sourceFiles(join(ROOT, folder)).flatMap((file) =>
        ts
          .preProcessFile(readFileSync(file, "utf8"), true, true)
          .importedFiles.map(({ fileName }) => fileName)
          .filter((specifier) => !specifier.startsWith(".") && !specifier.startsWith("node:"))
          .map((specifier) => specifier.match(/^(@[^/]+\/)?[^/]+/)![0])
          .filter((imported) => imported !== packageName && !(imported in dependencies))
          .map((imported) => `${name(file)} imports ${imported}`),
      ),
    );
    expect(undeclared).toEqual([]);
    // The contract is a calling convention: it depends on nothing at all.
    expect(PACKAGES.find(({ folder }) => folder === "tsgi")!.dependencies).toBeUndefined();
  });

  it("the master (arbiter) never loads the worker's request path, types included", () => {
    const requestPath = [
      "gateway/worker.ts",
      "gateway/server.ts",
      "gateway/handler.ts",
      "gateway/environ.ts",
      "gateway/input.ts",
      "gateway/request-guard.ts",
      "tsgi/response-engine.ts",
    ].map((file) => join(ROOT, file));
    // The worker does reach them all: the check would see an import from the master.
    const fromWorker = reachable(join(ROOT, "gateway/worker.ts"));
    expect(requestPath.slice(1).filter((file) => !fromWorker.has(file))).toEqual([]);
    const fromMaster = reachable(join(ROOT, "gateway/arbiter.ts"));
    expect(requestPath.filter((file) => fromMaster.has(file)).map(name)).toEqual([]);
    // What the two processes share about each other is in one file.
    expect(fromMaster.has(join(ROOT, "gateway/protocol.ts"))).toBe(true);
  });

  it("bench/ uses the packages only through what their exports maps offer", () => {
    const byPath = sourceFiles(join(ROOT, "bench")).flatMap((file) =>
      ts
        .preProcessFile(readFileSync(file, "utf8"), true, true)
        .importedFiles.map(({ fileName }) => fileName)
        .filter((specifier) => specifier.startsWith("."))
        .map((specifier) => name(resolve(dirname(file), specifier)))
        .filter((target) => /^(tsgi|gateway|app)\//.test(target))
        .map((target) => `${name(file)} imports ${target}`),
    );
    expect(byPath).toEqual([]);
    // And it does use them (by name: @foobar/gateway/internal is the documented internal export).
    expect(graph.get(join(ROOT, "bench/micro.ts"))).toContain(join(ROOT, "gateway/internal.ts"));
  });

  it("the validator and the response engine share no code with each other", () => {
    const validate = join(ROOT, "tsgi/validate.ts");
    const engine = join(ROOT, "tsgi/response-engine.ts");
    expect(reachable(validate).has(engine)).toBe(false);
    expect(reachable(engine).has(validate)).toBe(false);
  });

  it("the master's worker stats never load a worker's request path", () => {
    const statsSide = ["worker-stats", "worker-probe", "stats-page", "status-command"];
    const requestPath = ["handler", "server", "environ", "app-loader", "worker", "input"].map(
      (module) => join(ROOT, `gateway/${module}.ts`),
    );
    for (const module of statsSide) {
      const reached = reachable(join(ROOT, `gateway/${module}.ts`));
      expect(requestPath.filter((file) => reached.has(file)).map(name), module).toEqual([]);
    }
  });
});
