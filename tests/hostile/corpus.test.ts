/**
 * The hostile-request corpus (tests/corpus): each case's raw bytes go to the gateway over a raw
 * socket — directly, then through nginx — and the answer must be the status the case names (or
 * a clean close), with nothing internal in the body; then the same server must answer a normal
 * request. Set CORPUS_PROBE=1 to print what each case actually got instead of asserting.
 */
import { afterAll, describe, expect, it } from "vitest";
import { echoApp, startGateway, type RunningGateway } from "../helpers/gateway.js";
import { nginxProblem, startNginx, type RunningNginx } from "../helpers/nginx.js";
import { shouldRun } from "../helpers/skips.js";
import {
  exchange,
  LEAK_PATTERNS,
  loadCorpus,
  type CorpusCase,
  type Expectation,
} from "./raw-http.js";

const corpus = loadCorpus();
const probing = process.env.CORPUS_PROBE === "1";
const gateways = new Map<string, Promise<RunningGateway>>();
const proxies = new Map<string, Promise<RunningNginx>>();

function gatewayFor(testCase: CorpusCase): Promise<RunningGateway> {
  const key = JSON.stringify(testCase.settings);
  let gateway = gateways.get(key);
  if (gateway === undefined) {
    gateway = startGateway(echoApp, testCase.settings);
    gateways.set(key, gateway);
  }
  return gateway;
}

function nginxFor(testCase: CorpusCase): Promise<RunningNginx> {
  const key = JSON.stringify(testCase.settings);
  let proxy = proxies.get(key);
  if (proxy === undefined) {
    proxy = gatewayFor(testCase).then((gateway) => startNginx({ upstreamPort: gateway.port }));
    proxies.set(key, proxy);
  }
  return proxy;
}

afterAll(async () => {
  await Promise.all([...proxies.values()].map(async (proxy) => (await proxy).stop()));
  await Promise.all([...gateways.values()].map(async (gateway) => (await gateway).close()));
});

/**
 * `port` receives the case; `servingPort` the normal request afterwards. They differ through nginx
 * when a case shrinks the header limits below what nginx itself adds (Host, X-Forwarded-*).
 */
async function check(
  testCase: CorpusCase,
  port: number,
  expected: Expectation,
  servingPort = port,
): Promise<void> {
  const result = await exchange(port, testCase.bytes, {
    expected: expected.statuses.length,
    waitForClose: expected.close,
    end: testCase.end,
  });
  const statuses = result.responses.map((response) => response.status);
  if (probing) {
    console.log(
      `PROBE ${testCase.name}: statuses=${JSON.stringify(statuses)} closed=${result.closed}` +
        ` garbage=${JSON.stringify(result.garbage.toString("latin1").slice(0, 60))}` +
        ` expected=${JSON.stringify(expected)}`,
    );
    return;
  }
  expect(statuses, testCase.why).toEqual(expected.statuses);
  if (expected.close) expect(result.closed, "the server closes the connection").toBe(true);
  const garbage = result.garbage.toString("latin1");
  if (expected.unframed) expect(garbage, "an HTTP/0.9 answer").not.toBe("");
  else expect(garbage, "nothing but whole responses on the wire").toBe("");
  const bodies = [...result.responses.map((response) => response.body.toString("latin1")), garbage];
  for (const body of bodies) for (const pattern of LEAK_PATTERNS) expect(body).not.toMatch(pattern);
  for (const response of result.responses.filter((response) => response.status >= 400))
    expect(response.body.length, "an error says what went wrong").toBeGreaterThan(0);
  // The same server keeps serving.
  const after = await exchange(servingPort, testCase.normalRequest, {
    expected: 1,
    waitForClose: false,
  });
  expect(after.responses.map((response) => response.status)).toEqual([200]);
}

describe("hostile corpus, directly against the gateway", () => {
  it("has at least 60 cases", () => expect(corpus.length).toBeGreaterThanOrEqual(60));
  for (const testCase of corpus) {
    it(`${testCase.name}: ${testCase.why}`, async () => {
      const gateway = await gatewayFor(testCase);
      const logged = gateway.log.text.length;
      await check(testCase, gateway.port, testCase.direct);
      if (!probing && testCase.direct.statuses.some((status) => status >= 400)) {
        // Every refusal is logged with the client's address and the reason.
        expect(gateway.log.text.slice(logged)).toMatch(
          /\[WARNING\] Invalid request from ip=127\.0\.0\.1: /,
        );
      }
    });
  }
});

describe.runIf(shouldRun("hostile corpus, through nginx", nginxProblem()))(
  "hostile corpus, through nginx",
  () => {
    for (const testCase of corpus) {
      it(`${testCase.name}: ${testCase.why}`, async () => {
        const proxy = await nginxFor(testCase);
        const shrunk =
          "limit_request_fields" in testCase.settings ||
          "limit_request_field_size" in testCase.settings;
        const gateway = await gatewayFor(testCase);
        await check(testCase, proxy.port, testCase.viaNginx, shrunk ? gateway.port : proxy.port);
      });
    }
  },
);
