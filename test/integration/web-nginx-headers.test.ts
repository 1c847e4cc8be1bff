// Security headers as a browser receives them on the server: the real web app on its unix socket (as
// diy-web.service runs it, cookieSecure on) behind the real nginx on the shipped site. One owner per header:
// nginx adds HSTS (it terminates TLS), the app sends the headers that describe its page, and each arrives
// exactly once with the owner's value. The page itself runs under this CSP in Chromium (test/e2e).
import assert from "node:assert/strict";
import { type IncomingMessage, request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { memoryLogger } from "../../apps/web/log";
import { type RunningWeb, startWeb } from "../../apps/web/server";
import { HSTS } from "../../infra/render/nginx";
import { FIXTURES, type RenderedFixture, renderFixture } from "./daemons-fixtures";
import { type RunningNginx, startShippedNginx } from "./nginx-harness";
import { type TestBroker, startTestBroker } from "../support/broker";
import { tempDir } from "../support/temp-dir";

/** The headers this site sets, by owner. */
const APP_HEADERS = [
  "content-security-policy",
  "x-frame-options",
  "x-content-type-options",
  "referrer-policy",
  "permissions-policy",
];
const NGINX_HEADERS = ["strict-transport-security"];

interface Reply {
  status: number;
  /** Every header line as received, names lower-cased: a header sent twice appears twice. */
  lines: [string, string][];
}

function collect(res: IncomingMessage, resolve: (r: Reply) => void): void {
  const lines: [string, string][] = [];
  for (let i = 0; i < res.rawHeaders.length; i += 2)
    lines.push([(res.rawHeaders[i] ?? "").toLowerCase(), res.rawHeaders[i + 1] ?? ""]);
  res.resume();
  res.on("end", () => resolve({ status: res.statusCode ?? 0, lines }));
}

const values = (r: Reply, name: string): string[] => r.lines.filter(([n]) => n === name).map(([, v]) => v);

describe("security headers through nginx: one owner each, sent once", () => {
  const tmp = tempDir("web-nginx-headers");
  let broker: TestBroker;
  let r: RenderedFixture;
  let web: RunningWeb | undefined;
  let nginx: RunningNginx | undefined;
  let socket = "";

  const viaNginx = (path: string, body?: string): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          host: "127.0.0.1",
          port: nginx?.httpsPort,
          path,
          method: body === undefined ? "GET" : "POST",
          ca: r.ca.certPem,
          servername: "localhost",
          headers: body === undefined ? {} : { "content-type": "application/json" },
        },
        (res) => collect(res, resolve),
      );
      req.on("error", reject);
      req.end(body);
    });
  const direct = (path: string): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const req = httpRequest({ socketPath: socket, path }, (res) => collect(res, resolve));
      req.on("error", reject);
      req.end();
    });

  before(async () => {
    broker = await startTestBroker("web-nginx-headers");
    const fixture = FIXTURES[0];
    assert.ok(fixture);
    r = await renderFixture(fixture);
    socket = join(tmp.dir, "web.sock");
    const cert = await broker.client("web");
    web = await startWeb(
      {
        listen: { socket, group: "www-data" } as never,
        broker: { url: broker.url, ca: broker.caFile, cert: cert.cert, key: cert.key },
        cookieSecure: true, // as the server's config.json (infra/server-input.ts)
      },
      { password: "headers-password", sessionSecret: "headers-session-secret-0123456789", logger: memoryLogger() },
    );
    nginx = await startShippedNginx(tmp.dir, r, `http://unix:${socket}:`);
  });
  after(async () => {
    await nginx?.stop();
    await web?.close();
    await broker?.cleanup();
    tmp.cleanup();
  });

  for (const path of ["/", "/app.js", "/api/devices", "/healthz"]) {
    it(`${path}: HSTS from nginx, the page's headers from the app, each exactly once`, async () => {
      const res = await viaNginx(path);
      const app = await direct(path);
      assert.equal(res.status, app.status, nginx?.log());
      for (const name of [...APP_HEADERS, ...NGINX_HEADERS])
        assert.equal(values(res, name).length, 1, `${name} sent ${values(res, name).length} times on ${path}`);
      assert.deepEqual(values(res, "strict-transport-security"), [HSTS]);
      assert.deepEqual(values(app, "strict-transport-security"), [], "the app leaves HSTS to nginx");
      for (const name of APP_HEADERS) assert.deepEqual(values(res, name), values(app, name), `nginx changed ${name}`);
      const csp = values(res, "content-security-policy")[0] ?? "";
      assert.match(csp, /^default-src 'none';/);
      assert.match(csp, /script-src 'self'/);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.match(csp, /upgrade-insecure-requests/);
      assert.deepEqual(values(res, "x-frame-options"), ["DENY"]);
      assert.deepEqual(values(res, "x-content-type-options"), ["nosniff"]);
      assert.deepEqual(values(res, "referrer-policy"), ["no-referrer"]);
    });
  }

  it("nginx's own answers (a body over the limit) carry its HSTS, once", async () => {
    const res = await viaNginx("/api/login", JSON.stringify({ password: "x".repeat(32 * 1024) }));
    assert.equal(res.status, 413, nginx?.log());
    assert.deepEqual(values(res, "strict-transport-security"), [HSTS]);
  });
});
