/**
 * The kinds k8s/ may use, each with the `kubernetes-models` class that validates it against the
 * Kubernetes API schemas (types, required fields), keyed by `apiVersion/kind`.
 */
import { Namespace, ConfigMap, Service } from "kubernetes-models/v1";
import { Deployment } from "kubernetes-models/apps/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";

export const MODELS: Record<string, (value: object) => { validate(): void }> = {
  "v1/Namespace": (v) => new Namespace(v as never),
  "v1/ConfigMap": (v) => new ConfigMap(v as never),
  "v1/Service": (v) => new Service(v as never),
  "apps/v1/Deployment": (v) => new Deployment(v as never),
  "policy/v1/PodDisruptionBudget": (v) => new PodDisruptionBudget(v as never),
  "autoscaling/v2/HorizontalPodAutoscaler": (v) => new HorizontalPodAutoscaler(v as never),
  "networking.k8s.io/v1/NetworkPolicy": (v) => new NetworkPolicy(v as never),
};
