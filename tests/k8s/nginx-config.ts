/**
 * nginx/foobar.conf as the Kubernetes manifests carry it (k8s/nginx-configmap.yaml): the same
 * file with three parts changed, so a setting tuned for the compose stack cannot silently differ
 * on Kubernetes:
 *  - the upstream's server: the gateway Service's name, resolved once, instead of the compose
 *    service's name re-resolved by Docker's DNS (Kubernetes keeps the Service's endpoints
 *    current behind its one address); without Docker's resolver;
 *  - no /wsgi/ location: the Python reference service is part of the compose demo only.
 */
const RESOLVER_FROM = "# Docker's embedded DNS server";
const RESOLVER_TO = "resolver 127.0.0.11 valid=1s ipv6=off;\n\n";
const UPSTREAM_FROM = "    # Every replica of the `gateway` service,";
const UPSTREAM_TO = "    server gateway:8000 resolve max_fails=0 backup;\n";
const WSGI_FROM = "    # The original (wsgi/ in compose)";
const WSGI_TO = "    location / {";

export const KUBERNETES_UPSTREAM = `    # The gateway Service (k8s/gateway-service.yaml): one cluster IP, resolved when nginx starts;
    # kube-proxy spreads connections over the ready pods, which come and go behind it.
    zone gateway 64k;
    server gateway:8000 max_fails=0;
`;

function cut(text: string, from: string, to: string, replacement: string, keepEnd: boolean) {
  const start = text.indexOf(from);
  const end = text.indexOf(to, start);
  if (start < 0 || end < 0) throw new Error(`nginx/foobar.conf changed: no '${from}' … '${to}'`);
  return text.slice(0, start) + replacement + text.slice(keepEnd ? end : end + to.length);
}

export function kubernetesNginxConfig(foobarConf: string): string {
  const resolver = cut(foobarConf, RESOLVER_FROM, RESOLVER_TO, "", false);
  const upstream = cut(resolver, UPSTREAM_FROM, UPSTREAM_TO, KUBERNETES_UPSTREAM, false);
  return cut(upstream, WSGI_FROM, WSGI_TO, "", true);
}
