/**
 * Prometheus metrics with prom-client. Each worker counts its own requests; the master asks
 * every worker for its numbers over the cluster IPC channel (prom-client's AggregatorRegistry),
 * sums them, adds its own (workers, restarts and why) and serves the lot at `/metrics` on
 * `--metrics-bind`, a listener separate from the application's.
 */
import { createServer, type Server } from "node:http";
import type { ExchangeRecord } from "./hooks.js";
import { describeListener, type Address } from "./addresses.js";
import type { Logger } from "./log.js";
import type { Route } from "./stats-page.js";

import type * as PromClientModule from "prom-client";

type PromClient = typeof PromClientModule;

/** Loaded only when metrics are on: prom-client answers the master's IPC queries once imported. */
async function promClient(): Promise<PromClient> {
  return await import("prom-client");
}

/** A worker's side: counts requests and their durations. */
export async function createWorkerMetrics(): Promise<(record: ExchangeRecord) => void> {
  const client = await promClient();
  // Constructing one is what makes prom-client answer the master's IPC queries in a worker.
  new client.AggregatorRegistry();
  const requests = new client.Counter({
    name: "gateway_http_requests_total",
    help: "Responses sent, by status code.",
    labelNames: ["status"],
  });
  const duration = new client.Histogram({
    name: "gateway_http_request_duration_seconds",
    help: "Time from the request's arrival to the end of its response.",
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });
  return (record) => {
    requests.inc({ status: String(record.status) });
    duration.observe(Number(process.hrtime.bigint() - record.startedAt) / 1e9);
  };
}

/** The master's side. */
export class MasterMetrics {
  private constructor(
    private readonly client: PromClient,
    private readonly registry: InstanceType<PromClient["Registry"]>,
    private readonly aggregator: InstanceType<PromClient["AggregatorRegistry"]>,
    private readonly workers: InstanceType<PromClient["Gauge"]>,
    private readonly restarts: InstanceType<PromClient["Counter"]>,
  ) {}

  static async create(): Promise<MasterMetrics> {
    const client = await promClient();
    const registry = new client.Registry();
    const workers = new client.Gauge({
      name: "gateway_workers",
      help: "Worker processes alive.",
      registers: [registry],
    });
    const restarts = new client.Counter({
      name: "gateway_worker_restarts_total",
      help: "Workers replaced, by reason (crash, signal, timeout, max_requests, reload).",
      labelNames: ["reason"],
      registers: [registry],
    });
    return new MasterMetrics(client, registry, new client.AggregatorRegistry(), workers, restarts);
  }

  setWorkers(count: number): void {
    this.workers.set(count);
  }

  countRestart(reason: string): void {
    this.restarts.inc({ reason });
  }

  async text(): Promise<string> {
    const own = await this.registry.metrics();
    let fromWorkers = "";
    try {
      fromWorkers = await this.aggregator.clusterMetrics();
    } catch {
      // A worker that is stopping or stuck does not answer; serve what the master knows.
    }
    return own + fromWorkers;
  }

  contentType(): string {
    return this.client.Registry.PROMETHEUS_CONTENT_TYPE;
  }

  /** `otherRoutes` answers what is not /metrics first (the worker stats, stats-page.ts). */
  listen(address: Address, log: Logger, otherRoutes?: Route): Server {
    const server = createServer((request, response) => {
      if (request.url !== "/metrics") {
        if (otherRoutes?.(request, response)) return;
        response.writeHead(404, { "Content-Type": "text/plain" }).end("Not Found\n");
        return;
      }
      this.text().then(
        (text) => response.writeHead(200, { "Content-Type": this.contentType() }).end(text),
        (error: unknown) => {
          log.error("Cannot collect metrics: %s", error);
          response.writeHead(500).end();
        },
      );
    });
    server.on("error", (error) => log.error("Metrics listener: %s", error.message));
    const announce = () =>
      log.info("Serving metrics at: %s/metrics", describeListener(server.address()));
    if ("fd" in address) server.listen({ fd: address.fd }, announce);
    else if ("path" in address) server.listen(address.path, announce);
    else server.listen(address.port, address.host, announce);
    return server;
  }
}
