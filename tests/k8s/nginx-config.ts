/**
 * nginx/foobar.conf as the Kubernetes manifests carry it (k8s/nginx-configmap.yaml): the same
 * file with two parts changed, so a setting tuned for the compose stack cannot silently differ
 * on Kubernetes:
 *  - the upstream's servers: the gateway Service's name instead of the file that
 *    nginx/follow-upstreams.sh writes (Kubernetes keeps the Service's endpoints current);
 *  - no /wsgi/ location: the Python reference service is part of the compose demo only.
 */
const UPSTREAM_FROM = "    # The gateway replicas,";
const UPSTREAM_TO = "    include /etc/nginx/foobar-upstreams/gateway.conf;\n";
const WSGI_FROM = "    # The original (wsgi/ in compose)";
const WSGI_TO = "    location / {";

export const KUBERNETES_UPSTREAM = `    # The gateway Service (k8s/gateway-service.yaml): one cluster IP, resolved when nginx starts;
    # kube-proxy spreads connections over the ready pods, which come and go behind it.
    server gateway:8000 max_fails=0;
`;

function cut(text: string, from: string, to: string, replacement: string, keepEnd: boolean) {
  const start = text.indexOf(from);
  const end = text.indexOf(to, start);
  if (start < 0 || end < 0) throw new Error(`nginx/foobar.conf changed: no '${from}' … '${to}'`);
  return text.slice(0, start) + replacement + text.slice(keepEnd ? end : end + to.length);
}

export function kubernetesNginxConfig(foobarConf: string): string {
  const upstream = cut(foobarConf, UPSTREAM_FROM, UPSTREAM_TO, KUBERNETES_UPSTREAM, false);
  return cut(upstream, WSGI_FROM, WSGI_TO, "", true);
}
