// nginx serving the shipped dev-stack site for real (Debian's nginx.conf around it, listeners moved to
// 127.0.0.1 and free ports, the upstream to a stand-in app): redirect, ACME path, headers, SSE, limits.
import assert from "node:assert/strict";
import {
  createServer,
  type IncomingHttpHeaders,
  request as httpRequest,
  type Server,
  type ServerResponse,
} from "node:http";
import { request as httpsRequest } from "node:https";
import { after, before, describe, test } from "node:test";
import { FIXTURES, type RenderedFixture, renderFixture } from "./daemons-fixtures";
import { type RunningNginx, startShippedNginx } from "./nginx-harness";
import { tempDir } from "../support/temp-dir";

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

describe("nginx serving the shipped dev-stack site", () => {
  const tmp = tempDir("nginx-live");
  const sse: ServerResponse[] = [];
  let r: RenderedFixture;
  let nginx: RunningNginx | undefined;
  let app: Server | undefined;
  let httpPort = 0;
  let httpsPort = 0;
  const log = (): string => nginx?.log() ?? "";

  const https = (path: string, opts: { method?: string; body?: string } = {}): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          host: "127.0.0.1",
          port: httpsPort,
          path,
          method: opts.method ?? "GET",
          ca: r.ca.certPem,
          servername: "localhost",
          headers: opts.body
            ? { "content-type": "application/json", "content-length": Buffer.byteLength(opts.body) }
            : {},
        },
        (res) => {
          let body = "";
          res.on("data", (d) => {
            body += d;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        },
      );
      req.on("error", reject);
      req.end(opts.body);
    });

  before(async () => {
    const fixture = FIXTURES[0];
    assert.ok(fixture);
    r = await renderFixture(fixture);
    app = createServer((req, res) => {
      if (req.url === "/api/events") {
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
        res.write("data: first\n\n");
        sse.push(res); // held open: the client must see "first" before the stream ends
        return;
      }
      req.resume();
      req.on("end", () => {
        res.writeHead(200, {
          "content-type": "text/plain",
          "content-security-policy": "default-src *",
          "x-frame-options": "SAMEORIGIN",
        });
        res.end(`app saw ${req.method} ${req.url}`);
      });
    });
    await new Promise<void>((resolve) => app?.listen(0, "127.0.0.1", resolve));
    const appAddr = app.address();
    const appPort = typeof appAddr === "object" && appAddr ? appAddr.port : 0;

    nginx = await startShippedNginx(tmp.dir, r, `http://127.0.0.1:${appPort}`);
    ({ httpPort, httpsPort } = nginx);
  });

  after(async () => {
    for (const s of sse) s.destroy();
    await nginx?.stop();
    await new Promise<void>((resolve) => (app ? app.close(() => resolve()) : resolve()));
    tmp.cleanup();
  });

  test("redirects plain HTTP to HTTPS, keeping the path", async () => {
    const res = await new Promise<{ status: number; location?: string }>((resolve, reject) => {
      httpRequest({ host: "127.0.0.1", port: httpPort, path: "/devices?x=1" }, (m) => {
        m.resume();
        resolve({ status: m.statusCode ?? 0, location: m.headers.location });
      })
        .on("error", reject)
        .end();
    });
    assert.equal(res.status, 301, log());
    assert.equal(res.location, "https://127.0.0.1/devices?x=1");
  });

  test("answers ACME challenges over plain HTTP instead of redirecting them", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      httpRequest({ host: "127.0.0.1", port: httpPort, path: "/.well-known/acme-challenge/token" }, (m) => {
        m.resume();
        resolve(m.statusCode ?? 0);
      })
        .on("error", reject)
        .end();
    });
    assert.equal(status, 404, "served from the webroot (empty here), not redirected");
  });

  test("proxies HTTPS to the app adding HSTS, the app's page headers passed unchanged, and no version", async () => {
    const res = await https("/");
    assert.equal(res.status, 200, log());
    assert.equal(res.body, "app saw GET /");
    assert.match(String(res.headers["strict-transport-security"]), /max-age=\d+/);
    // The page's headers are the app's to set (apps/web/app.ts); nginx neither hides nor replaces them.
    assert.equal(res.headers["x-frame-options"], "SAMEORIGIN");
    assert.equal(res.headers["content-security-policy"], "default-src *");
    assert.equal(res.headers.server, "nginx");
  });

  test("streams server-sent events through without buffering", async () => {
    const first = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest(
        { host: "127.0.0.1", port: httpsPort, path: "/api/events", ca: r.ca.certPem, servername: "localhost" },
        (res) => {
          res.once("data", (d: Buffer) => {
            resolve(d.toString());
            req.destroy();
          });
        },
      );
      req.on("error", (e) => (e.message.includes("socket hang up") ? undefined : reject(e)));
      req.end();
      // A guard, not a measurement: buffered, the event would only arrive when the app ends the stream.
      setTimeout(() => {
        req.destroy();
        reject(new Error(`no event while the stream is open: nginx buffers /api/events${log()}`));
      }, 10_000).unref();
    });
    assert.equal(first, "data: first\n\n");
  });

  test("refuses request bodies over the size limit before they reach the app", async () => {
    const res = await https("/api/anything", { method: "POST", body: JSON.stringify({ pad: "x".repeat(32 * 1024) }) });
    assert.equal(res.status, 413);
    const ok = await https("/api/anything", { method: "POST", body: '{"value":"on"}' });
    assert.equal(ok.status, 200, log());
  });
});
