/**
 * `@foobar/gateway/internal`: the pieces of a worker's request path, one by one, for the
 * benchmarks (bench/micro.ts and bench/instructions.ts time each of them without a socket) and
 * for tools that watch a gateway's processes. Not an API for apps or servers: names and
 * signatures here change whenever the request path does. Serve an app with
 * `createGatewayServer` from `@foobar/gateway` (or the `gateway` command) instead.
 */
export { buildEnviron, type ServerContext } from "./environ.js";
export { fileWrapper } from "./file-wrapper.js";
export { createRequestHandler } from "./handler.js";
export { RequestInput } from "./input.js";
export { Logger } from "./log.js";
export { isRunning } from "./pidfile.js";
export { requestRefusal } from "./request-guard.js";
export { TrustedProxies } from "./trusted-proxies.js";
export { SOFTWARE } from "./version.js";
