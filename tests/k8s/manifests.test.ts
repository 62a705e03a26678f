/**
 * The Kubernetes manifests (k8s/), checked without a cluster: every document of every file is
 * validated against the Kubernetes API schemas (the `kubernetes-models` package, generated from
 * Kubernetes' OpenAPI), the kustomization lists every file, the objects point at each other
 * (selectors, names, ports), the rollout settings do what docs/docker.md says, and nginx's config
 * is nginx/foobar.conf with only the planned changes.
 *
 * Unknown (misspelt) fields pass the schemas, as the API server's non-strict decoding lets them:
 * rendered.test.ts checks the kustomize output strictly. What neither can catch is anything only
 * a live cluster shows.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { MODELS } from "./models.js";
import { kubernetesNginxConfig } from "./nginx-config.js";

const ROOT = new URL("../../", import.meta.url).pathname;
const K8S = join(ROOT, "k8s");

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  // The rest is checked by the schema; tests read what they need.
  [key: string]: unknown;
}

const files = readdirSync(K8S)
  .filter((name) => name.endsWith(".yaml"))
  .sort();
const documents = files.flatMap((file) =>
  parseAllDocuments(readFileSync(join(K8S, file), "utf8")).map((document, index) => {
    if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0]!.message}`);
    return { file, index, value: document.toJS() as Manifest };
  }),
);
const resources = documents.filter((d) => d.file !== "kustomization.yaml").map((d) => d.value);

function find<T = Manifest>(kind: string, name: string): T {
  const found = resources.find((r) => r.kind === kind && r.metadata.name === name);
  if (found === undefined) throw new Error(`no ${kind} ${name} in k8s/`);
  return found as T;
}

interface Container {
  name: string;
  args?: string[];
  ports: { name: string; containerPort: number }[];
  readinessProbe: { httpGet: { path: string; port: string } };
  livenessProbe: { httpGet: { path: string; port: string } };
  lifecycle: { preStop: { exec: { command: string[] } } };
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface DeploymentShape {
  spec: {
    replicas: number;
    selector: { matchLabels: Record<string, string> };
    strategy: { rollingUpdate: { maxUnavailable: number } };
    template: {
      metadata: { labels: Record<string, string> };
      spec: {
        terminationGracePeriodSeconds: number;
        containers: Container[];
        volumes?: { name: string; configMap?: { name: string } }[];
      };
    };
  };
}

describe("k8s/: every manifest is valid against the Kubernetes schemas", () => {
  it("has the files and kinds the docs describe", () => {
    expect(files).toContain("kustomization.yaml");
    expect(resources.map((r) => `${r.kind}/${r.metadata.name}`).sort()).toEqual(
      [
        "ConfigMap/nginx",
        "Deployment/gateway",
        "Deployment/nginx",
        "HorizontalPodAutoscaler/gateway",
        "Namespace/foobar",
        "NetworkPolicy/gateway-from-nginx-only",
        "PodDisruptionBudget/gateway",
        "Service/gateway",
        "Service/nginx",
      ].sort(),
    );
  });

  for (const { file, index, value } of documents.filter((d) => d.file !== "kustomization.yaml"))
    it(`${file} #${index + 1}: ${value.kind} ${value.metadata?.name}`, () => {
      const model = MODELS[`${value.apiVersion}/${value.kind}`];
      expect(model, `no model for ${value.apiVersion} ${value.kind}`).toBeDefined();
      expect(() => model!(value).validate()).not.toThrow();
    });

  it("catches a wrong type (the validation can fail)", () => {
    const deployment = structuredClone(find("Deployment", "gateway")) as unknown as DeploymentShape;
    (deployment.spec as { replicas: unknown }).replicas = "three";
    expect(() => MODELS["apps/v1/Deployment"]!(deployment).validate()).toThrow(/replicas/);
  });

  it("lists every file in the kustomization, and nothing else", () => {
    const kustomization = documents.find((d) => d.file === "kustomization.yaml")!
      .value as unknown as {
      kind: string;
      resources: string[];
    };
    expect(kustomization.kind).toBe("Kustomization");
    expect([...kustomization.resources].sort()).toEqual(
      files.filter((file) => file !== "kustomization.yaml"),
    );
  });
});

describe("k8s/: the objects fit together", () => {
  const gateway = find<DeploymentShape>("Deployment", "gateway");
  const nginx = find<DeploymentShape>("Deployment", "nginx");
  const gatewayLabels = gateway.spec.template.metadata.labels;
  const nginxLabels = nginx.spec.template.metadata.labels;
  const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
    Object.entries(selector).every(([key, value]) => labels[key] === value);

  it("selects each Deployment's pods with its Services, PDB, policy and HPA", () => {
    expect(matches(gateway.spec.selector.matchLabels, gatewayLabels)).toBe(true);
    expect(matches(nginx.spec.selector.matchLabels, nginxLabels)).toBe(true);
    const service = (name: string) =>
      find<{
        spec: { selector: Record<string, string>; ports: { port: number; targetPort: string }[] };
      }>("Service", name).spec;
    expect(matches(service("gateway").selector, gatewayLabels)).toBe(true);
    expect(service("gateway").ports[0]).toMatchObject({ port: 8000, targetPort: "http" });
    expect(matches(service("nginx").selector, nginxLabels)).toBe(true);
    const pdb = find<{ spec: { selector: { matchLabels: Record<string, string> } } }>(
      "PodDisruptionBudget",
      "gateway",
    );
    expect(matches(pdb.spec.selector.matchLabels, gatewayLabels)).toBe(true);
    const policy = find<{
      spec: {
        podSelector: { matchLabels: Record<string, string> };
        ingress: { from: { podSelector: { matchLabels: Record<string, string> } }[] }[];
      };
    }>("NetworkPolicy", "gateway-from-nginx-only");
    expect(matches(policy.spec.podSelector.matchLabels, gatewayLabels)).toBe(true);
    expect(matches(policy.spec.ingress[0]!.from[0]!.podSelector.matchLabels, nginxLabels)).toBe(
      true,
    );
    const hpa = find<{
      spec: { scaleTargetRef: { kind: string; name: string }; minReplicas: number };
    }>("HorizontalPodAutoscaler", "gateway");
    expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: "Deployment", name: "gateway" });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
  });

  it("rolls the gateway out without dropping requests: probes, preStop, grace period", () => {
    const [container] = gateway.spec.template.spec.containers;
    expect(gateway.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
    expect(container!.ports).toEqual([{ name: "http", containerPort: 8000 }]);
    expect(container!.readinessProbe.httpGet).toEqual({ path: "/", port: "http" });
    expect(container!.livenessProbe.httpGet).toEqual({ path: "/", port: "http" });
    const preStop = container!.lifecycle.preStop.exec.command;
    expect(preStop[0]).toBe("sleep");
    const preStopSeconds = Number(preStop[1]);
    expect(preStopSeconds).toBeGreaterThan(0);
    // Gunicorn's (and the gateway's) default graceful timeout is 30 s.
    expect(gateway.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(
      preStopSeconds + 30,
    );
    expect(container!.resources.requests).toHaveProperty("cpu");
    expect(container!.resources.limits).toHaveProperty("memory");
    expect(container!.args).toEqual(["@foobar/app"]);
  });

  it("gives nginx the project's config from the ConfigMap, mounted where the image reads it", () => {
    const [container] = nginx.spec.template.spec.containers;
    expect(container!.readinessProbe.httpGet.path).toBe("/nginx-health");
    const mount = container!.volumeMounts!.find((m) => m.mountPath === "/etc/nginx/conf.d");
    const volume = nginx.spec.template.spec.volumes!.find((v) => v.name === mount!.name);
    expect(volume!.configMap!.name).toBe("nginx");
  });

  it("mounts the TLS Secret where nginx/foobar.conf reads the certificate, and serves HTTPS", () => {
    const [container] = nginx.spec.template.spec.containers;
    const mount = container!.volumeMounts!.find((m) => m.mountPath === "/etc/nginx/tls");
    const volume = nginx.spec.template.spec.volumes!.find((v) => v.name === mount!.name) as {
      secret?: { secretName: string };
    };
    expect(volume.secret?.secretName).toBe("nginx-tls");
    const conf = readFileSync(join(ROOT, "nginx/foobar.conf"), "utf8");
    expect(conf).toContain("ssl_certificate     /etc/nginx/tls/tls.crt;");
    expect(conf).toContain("ssl_certificate_key /etc/nginx/tls/tls.key;");
    const ports = (container as unknown as { ports: { name: string; containerPort: number }[] })
      .ports;
    expect(ports).toContainEqual({ name: "https", containerPort: 8443 });
  });

  it("carries nginx/foobar.conf in the ConfigMap, changed only where Kubernetes differs", () => {
    const configMap = find<{ data: Record<string, string> }>("ConfigMap", "nginx");
    const project = readFileSync(join(ROOT, "nginx/foobar.conf"), "utf8");
    expect(configMap.data["default.conf"]).toBe(kubernetesNginxConfig(project));
    // The tuned settings are the project's: pool, failover, timeouts.
    expect(configMap.data["default.conf"]).toContain("keepalive 256;");
    expect(configMap.data["default.conf"]).toContain("server gateway:8000 max_fails=0;");
    expect(configMap.data["default.conf"]).not.toContain("/wsgi/");
  });
});
