/**
 * Strict field checking for Kubernetes objects, as the API server's strict decoding does
 * (`kubectl apply --validate=strict`): every field name, at every depth, must be one the API
 * defines for that place. The JSON schemas `kubernetes-models` validates with accept unknown
 * fields (as non-strict decoding does), so a misspelt `securityContxt` would pass them and be
 * silently dropped by a cluster. The API's field names are read here from the same package's
 * TypeScript types, generated from Kubernetes' OpenAPI — Kubernetes 1.33 for kubernetes-models
 * 4.5 (the newest fields it knows are 1.33's, such as a container lifecycle's `stopSignal`) —
 * by the TypeScript compiler's type checker, so no second copy of the API is kept.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import ts from "typescript";

/** The kinds the manifests use: apiVersion/kind → the kubernetes-models module and its type. */
const ROOT_TYPES: Record<string, [module: string, type: string]> = {
  "v1/Namespace": ["kubernetes-models/v1/Namespace", "INamespace"],
  "v1/ConfigMap": ["kubernetes-models/v1/ConfigMap", "IConfigMap"],
  "v1/Service": ["kubernetes-models/v1/Service", "IService"],
  "apps/v1/Deployment": ["kubernetes-models/apps/v1/Deployment", "IDeployment"],
  "policy/v1/PodDisruptionBudget": [
    "kubernetes-models/policy/v1/PodDisruptionBudget",
    "IPodDisruptionBudget",
  ],
  "autoscaling/v2/HorizontalPodAutoscaler": [
    "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler",
    "IHorizontalPodAutoscaler",
  ],
  "networking.k8s.io/v1/NetworkPolicy": [
    "kubernetes-models/networking.k8s.io/v1/NetworkPolicy",
    "INetworkPolicy",
  ],
};

interface Checker {
  checker: ts.TypeChecker;
  roots: Map<string, ts.Type>;
}

let compiled: Checker | undefined;

/** One small program that imports each root type: the checker then knows the whole API. */
function compile(): Checker {
  if (compiled !== undefined) return compiled;
  const here = dirname(createRequire(import.meta.url).resolve("kubernetes-models/package.json"));
  const file = join(dirname(here), "..", "foobar-k8s-strict-fields.ts");
  const entries = Object.entries(ROOT_TYPES);
  const source = entries
    .map(
      ([, [module, type]], i) =>
        `import type { ${type} as T${i} } from "${module}";\nexport type Root${i} = T${i};`,
    )
    .join("\n");
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => (name === file ? source : readFile(name));
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || fileExists(name);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version, ...rest) =>
    name === file
      ? ts.createSourceFile(name, source, version)
      : getSourceFile(name, version, ...rest);
  const program = ts.createProgram([file], options, host);
  const checker = program.getTypeChecker();
  const module = checker.getSymbolAtLocation(program.getSourceFile(file)!)!;
  const exported = checker.getExportsOfModule(module);
  const roots = new Map<string, ts.Type>();
  entries.forEach(([key], i) => {
    const symbol = exported.find((s) => s.name === `Root${i}`)!;
    const type = checker.getDeclaredTypeOfSymbol(symbol);
    // An import that did not resolve would be `any`, and would let every field through.
    if (checker.getPropertyOfType(type, "apiVersion") === undefined)
      throw new Error(`strict-fields: no API type for ${key} (kubernetes-models changed?)`);
    roots.set(key, type);
  });
  compiled = { checker, roots };
  return compiled;
}

/** `type` without `undefined` and `null`; the object-like members of what is left. */
function objectMembers(type: ts.Type): ts.Type[] {
  const members = type.isUnion() ? type.types : [type];
  return members.filter((t) => (t.flags & ts.TypeFlags.Object) !== 0);
}

/**
 * Every field of `value` that the API does not define where it stands, as a path
 * (`spec.template.spec.containers[0].securityContxt`). Empty: every name is known. A kind
 * without a known type is reported too.
 */
export function unknownFields(value: { apiVersion?: unknown; kind?: unknown }): string[] {
  const { checker, roots } = compile();
  const key = `${String(value.apiVersion)}/${String(value.kind)}`;
  const root = roots.get(key);
  if (root === undefined) return [`(no API type known for ${key})`];
  const found: string[] = [];

  function walk(node: unknown, type: ts.Type, path: string): void {
    if (node === null || typeof node !== "object") return; // values: the schemas check them
    const candidates = objectMembers(type);
    if (Array.isArray(node)) {
      const array = candidates.find((t) => checker.isArrayType(t));
      const element = array && checker.getTypeArguments(array as ts.TypeReference)[0];
      if (element !== undefined) node.forEach((item, i) => walk(item, element, `${path}[${i}]`));
      return;
    }
    const objectType = candidates.find((t) => !checker.isArrayType(t));
    if (objectType === undefined) return;
    // A map (labels, annotations, data, resource quantities): any key, values of one type.
    const indexed = checker.getIndexTypeOfType(objectType, ts.IndexKind.String);
    for (const [name, child] of Object.entries(node)) {
      const childPath = path === "" ? name : `${path}.${name}`;
      const property = checker.getPropertyOfType(objectType, name);
      if (property !== undefined) walk(child, checker.getTypeOfSymbol(property), childPath);
      else if (indexed !== undefined) walk(child, indexed, childPath);
      else found.push(childPath);
    }
  }

  walk(value, root, "");
  return found;
}
