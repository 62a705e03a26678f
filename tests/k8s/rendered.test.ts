/**
 * k8s/ as a cluster would receive it: rendered by `kustomize build k8s/` (Debian trixie's
 * kustomize and kubectl, installed by .ci/install-trixie-tools.sh; `kubectl kustomize` must render
 * the same, since `kubectl apply -k` is how docs/docker.md applies it), then every object checked
 * against the Kubernetes 1.33 API: the schemas (types, required fields) and strictly, every
 * field name at every depth (strict-fields.ts; a misspelt field fails). Then both pods against
 * the Pod Security "restricted" standard the namespace enforces, control by control.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { MODELS } from "./models.js";
import { shouldRun } from "../helpers/python.js";
import { unknownFields } from "./strict-fields.js";

const ROOT = new URL("../../", import.meta.url).pathname;
const TOOLS = join(process.env.TRIXIE_TOOLS ?? "/opt/foobar/trixie", "usr/bin");
const KUSTOMIZE = join(TOOLS, "kustomize");
const KUBECTL = join(TOOLS, "kubectl");
const missing = [KUSTOMIZE, KUBECTL].filter((tool) => !existsSync(tool));
const problem =
  missing.length === 0 ? null : `no ${missing.join(", ")} (run .ci/install-trixie-tools.sh)`;

interface Rendered {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: { template?: { spec: PodSpec } };
}
interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
  readOnlyRootFilesystem?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type: string };
}
interface PodSpec {
  automountServiceAccountToken?: boolean;
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  securityContext?: SecurityContext;
  containers: {
    name: string;
    securityContext?: SecurityContext;
    ports?: { hostPort?: number }[];
    resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  }[];
  volumes?: Record<string, unknown>[];
}

function render(command: string, args: string[]): Rendered[] {
  const output = execFileSync(command, [...args, join(ROOT, "k8s")], {
    encoding: "utf8",
    timeout: 60_000,
  });
  return parseAllDocuments(output).map((document) => document.toJS() as Rendered);
}

/** The Pod Security "restricted" controls (Kubernetes 1.33) a pod fails, by name. */
function restrictedViolations(pod: PodSpec): string[] {
  const failed: string[] = [];
  const podContext = pod.securityContext ?? {};
  if (pod.hostNetwork || pod.hostPID || pod.hostIPC) failed.push("host namespaces");
  const allowedVolumes = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
  ];
  for (const volume of pod.volumes ?? [])
    for (const type of Object.keys(volume).filter((key) => key !== "name"))
      if (!allowedVolumes.includes(type)) failed.push(`volume type ${type}`);
  for (const container of pod.containers) {
    const context = container.securityContext ?? {};
    const where = `container ${container.name}:`;
    if (context.privileged) failed.push(`${where} privileged`);
    if (context.allowPrivilegeEscalation !== false)
      failed.push(`${where} allowPrivilegeEscalation != false`);
    if ((context.runAsNonRoot ?? podContext.runAsNonRoot) !== true)
      failed.push(`${where} runAsNonRoot != true`);
    if ((context.runAsUser ?? podContext.runAsUser) === 0) failed.push(`${where} runAsUser 0`);
    const seccomp = (context.seccompProfile ?? podContext.seccompProfile)?.type;
    if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost")
      failed.push(`${where} seccompProfile ${seccomp}`);
    if (!(context.capabilities?.drop ?? []).includes("ALL"))
      failed.push(`${where} capabilities not dropping ALL`);
    const added = (context.capabilities?.add ?? []).filter((c) => c !== "NET_BIND_SERVICE");
    if (added.length > 0) failed.push(`${where} adds ${added.join(", ")}`);
    if ((container.ports ?? []).some((port) => port.hostPort)) failed.push(`${where} hostPort`);
  }
  return failed;
}

describe.runIf(shouldRun("k8s/ rendered by kustomize", problem))(
  "k8s/ rendered by `kustomize build`, checked against the Kubernetes 1.33 API",
  () => {
    const rendered = problem === null ? render(KUSTOMIZE, ["build"]) : [];
    const deployments = () => rendered.filter((object) => object.kind === "Deployment");

    it("renders what `kubectl kustomize` (as `kubectl apply -k`) renders", () => {
      expect(render(KUBECTL, ["kustomize"])).toEqual(rendered);
      expect(rendered.map((object) => `${object.kind}/${object.metadata.name}`)).toContain(
        "Deployment/nginx",
      );
    });

    it("gives every object of the rendered output a valid type for its schema", () => {
      for (const object of rendered) {
        const schema = MODELS[`${object.apiVersion}/${object.kind}`];
        expect(schema, `${object.apiVersion} ${object.kind}`).toBeDefined();
        expect(() => schema!(object).validate()).not.toThrow();
      }
    });

    it("uses no field the API does not define, at any depth", () => {
      for (const object of rendered)
        expect(unknownFields(object), `${object.kind}/${object.metadata.name}`).toEqual([]);
    });

    it("catches one misspelt field deep in a pod (the strict check can fail)", () => {
      const nginx = structuredClone(deployments().find((d) => d.metadata.name === "nginx")!);
      const container = nginx.spec!.template!.spec.containers[0]! as Record<string, unknown>;
      container["securityContxt"] = container["securityContext"];
      delete container["securityContext"];
      // The schemas let it through: that is why the strict check exists.
      expect(() => MODELS["apps/v1/Deployment"]!(nginx).validate()).not.toThrow();
      expect(unknownFields(nginx)).toEqual(["spec.template.spec.containers[0].securityContxt"]);
    });

    it('puts every object in the namespace, which enforces Pod Security "restricted"', () => {
      const namespace = rendered.find((object) => object.kind === "Namespace")!;
      expect(namespace.metadata.labels).toMatchObject({
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "v1.33",
      });
      for (const object of rendered.filter((o) => o.kind !== "Namespace"))
        expect(object.metadata.namespace, object.metadata.name).toBe(namespace.metadata.name);
    });

    it('runs both pods as "restricted" allows, with no service-account token', () => {
      expect(
        deployments()
          .map((d) => d.metadata.name)
          .sort(),
      ).toEqual(["gateway", "nginx"]);
      for (const deployment of deployments()) {
        const pod = deployment.spec!.template!.spec;
        expect(restrictedViolations(pod), deployment.metadata.name).toEqual([]);
        expect(pod.automountServiceAccountToken, deployment.metadata.name).toBe(false);
      }
    });

    it("gives both pods a read-only root filesystem, CPU and memory requests, a memory limit", () => {
      for (const deployment of deployments())
        for (const container of deployment.spec!.template!.spec.containers) {
          expect(container.securityContext?.readOnlyRootFilesystem, container.name).toBe(true);
          expect(Object.keys(container.resources?.requests ?? {}).sort()).toEqual([
            "cpu",
            "memory",
          ]);
          // No CPU limit, on purpose: the manifests say why.
          expect(Object.keys(container.resources?.limits ?? {})).toEqual(["memory"]);
        }
    });

    it("the restricted check can fail: a root nginx with its privileges is caught", () => {
      const pod = structuredClone(deployments().find((d) => d.metadata.name === "nginx")!).spec!
        .template!.spec;
      delete pod.securityContext;
      pod.containers[0]!.securityContext = {};
      pod.volumes = [...(pod.volumes ?? []), { name: "host", hostPath: { path: "/" } }];
      expect(restrictedViolations(pod)).toEqual([
        "volume type hostPath",
        "container nginx: allowPrivilegeEscalation != false",
        "container nginx: runAsNonRoot != true",
        "container nginx: seccompProfile undefined",
        "container nginx: capabilities not dropping ALL",
      ]);
    });
  },
);
