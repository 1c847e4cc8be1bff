// HTTP behaviour of the web app that needs no broker: login, sessions, CSRF, validation, headers.
// The command sender here is a recording stub; publishing through a real broker is in
// test/integration/web-*.test.ts.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { memoryLogger } from "../../apps/web/log";
import { DeviceStore } from "../../apps/web/state";
import { RecordingSender, TEST_WEB_PASSWORD as PASSWORD, startWebApp } from "../support/web-app";

describe("web app over HTTP (no broker)", () => {
  const log = memoryLogger();
  const sender = new RecordingSender();
  const store = new DeviceStore([{ id: "pi1", outputs: ["led"], inputs: [] }]);
  let base = "";
  let close: () => Promise<void>;

  before(async () => {
    const web = await startWebApp({
      store,
      broker: sender,
      logger: log,
      loginRateLimit: { windowMs: 60_000, limit: 5 },
    });
    base = web.base;
    close = web.close;
  });
  after(() => close());

  async function login(): Promise<{ cookie: string; csrf: string }> {
    const res = await fetch(`${base}/api/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ password: PASSWORD }),
    });
    assert.equal(res.status, 200);
    const setCookie = res.headers.get("set-cookie") ?? "";
    const body = (await res.json()) as { csrfToken: string };
    return { cookie: setCookie.split(";")[0] as string, csrf: body.csrfToken };
  }

  function post(
    path: string,
    opts: { cookie?: string; csrf?: string; body?: string; type?: string; origin?: string } = {},
  ) {
    const headers: Record<string, string> = { "content-type": opts.type ?? "application/json" };
    if (opts.cookie) headers.cookie = opts.cookie;
    if (opts.csrf) headers["x-csrf-token"] = opts.csrf;
    if (opts.origin) headers.origin = opts.origin;
    return fetch(`${base}${path}`, { method: "POST", headers, body: opts.body ?? "" });
  }

  it("serves the page with a strict CSP and security headers, and no inline script", async () => {
    const res = await fetch(`${base}/`);
    assert.equal(res.status, 200);
    const csp = res.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.equal(res.headers.get("x-powered-by"), null);
    const html = await res.text();
    assert.doesNotMatch(html, /<script>(?!<\/script>)|<script(?![^>]*\bsrc=)[^>]*>/, "no inline <script>");
    assert.doesNotMatch(html, /\son[a-z]+=/i, "no inline event handlers");
    const js = await fetch(`${base}/app.js`);
    assert.match(js.headers.get("content-type") ?? "", /text\/javascript/);
  });

  it("refuses the API without a session, and a wrong password with 401 and a log line", async () => {
    assert.equal((await fetch(`${base}/api/devices`)).status, 401);
    assert.equal((await fetch(`${base}/api/events`)).status, 401);
    const res = await post("/api/login", { body: JSON.stringify({ password: "wrong" }) });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get("set-cookie"), null);
    assert.ok(log.entries.some((e) => e.event === "login_failed"));
    assert.ok(!JSON.stringify(log.entries).includes('wrong"'), "the tried password is not logged");
  });

  it("logs in with the password: HttpOnly SameSite=Strict cookie and a CSRF token", async () => {
    const res = await post("/api/login", { body: JSON.stringify({ password: PASSWORD }) });
    assert.equal(res.status, 200);
    assert.match(
      res.headers.get("set-cookie") ?? "",
      /^diy_session=[^;]+; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Strict$/,
    );
    const { cookie, csrf } = await login();
    const devices = await fetch(`${base}/api/devices`, { headers: { cookie } });
    assert.equal(devices.status, 200);
    assert.deepEqual(await devices.json(), { broker: "connected", devices: store.list() });
    const session = await (await fetch(`${base}/api/session`, { headers: { cookie } })).json();
    assert.deepEqual(session, { authenticated: true, csrfToken: csrf });
    assert.ok(!JSON.stringify(log.entries).includes(PASSWORD), "password never logged");
    assert.ok(!JSON.stringify(log.entries).includes(cookie.split("=")[1] as string), "cookie never logged");
  });

  it("refuses a command without the CSRF token, with another session's token, or from another origin", async () => {
    const a = await login();
    const b = await login();
    const body = JSON.stringify({ value: "on" });
    const path = "/api/devices/pi1/outputs/led";
    assert.equal((await post(path, { cookie: a.cookie, body })).status, 403);
    assert.equal((await post(path, { cookie: a.cookie, csrf: b.csrf, body })).status, 403);
    assert.equal(
      (await post(path, { cookie: a.cookie, csrf: a.csrf, body, origin: "https://evil.example" })).status,
      403,
    );
    assert.equal(sender.sent.length, 0);
    assert.ok(log.entries.some((e) => e.event === "csrf_refused"));
    const ok = await post(path, { cookie: a.cookie, csrf: a.csrf, body, origin: base });
    assert.equal(ok.status, 202);
    assert.deepEqual(await ok.json(), { req: sender.reqs[0] }, "the req the command was published with");
    assert.match(sender.reqs[0] ?? "", /^[A-Za-z0-9_-]{12}$/);
    assert.deepEqual(sender.sent, [["pi1", "led", "on"]]);
  });

  it("answers bad ids with 404 and bad bodies with 400 and a message", async () => {
    const { cookie, csrf } = await login();
    const cases: [string, string, string | undefined, number, RegExp][] = [
      ["/api/devices/ghost/outputs/led", '{"value":"on"}', undefined, 404, /no device "ghost"/],
      ["/api/devices/pi1/outputs/relay", '{"value":"on"}', undefined, 404, /no output "relay"/],
      ["/api/devices/..%2F..%2Fetc/outputs/led", '{"value":"on"}', undefined, 404, /no device/],
      ["/api/devices/pi1/outputs/led", '{"value":"blink"}', undefined, 400, /"on" \| "off" \| "toggle"/],
      ["/api/devices/pi1/outputs/led", '{"value":"on","x":1}', undefined, 400, /"on" \| "off" \| "toggle"/],
      ["/api/devices/pi1/outputs/led", '{"value":', undefined, 400, /not valid JSON/],
      ["/api/devices/pi1/outputs/led", '"on"', undefined, 400, /not valid JSON|"on" \| "off"/],
      [
        "/api/devices/pi1/outputs/led",
        JSON.stringify({ value: "on", pad: "x".repeat(2000) }),
        undefined,
        400,
        /larger than 1kb/,
      ],
      [
        "/api/devices/pi1/outputs/led",
        "value=on",
        "application/x-www-form-urlencoded",
        400,
        /Content-Type application\/json/,
      ],
      ["/api/nothing", "{}", undefined, 404, /no such API endpoint/],
    ];
    for (const [path, body, type, status, message] of cases) {
      const res = await post(path, { cookie, csrf, body, ...(type ? { type } : {}) });
      assert.equal(res.status, status, `${path} ${body.slice(0, 30)}`);
      const json = (await res.json()) as { error: string };
      assert.match(json.error, message, path);
    }
    assert.equal(sender.sent.length, 1, "nothing more was sent");
  });

  it("answers 503 when the broker is down, and /healthz says so", async () => {
    const { cookie, csrf } = await login();
    sender.connected = false;
    try {
      const res = await post("/api/devices/pi1/outputs/led", { cookie, csrf, body: '{"value":"toggle"}' });
      assert.equal(res.status, 503);
      assert.match(((await res.json()) as { error: string }).error, /broker unavailable/);
      const health = await fetch(`${base}/healthz`);
      assert.equal(health.status, 503);
      assert.deepEqual(await health.json(), { status: "degraded", broker: "disconnected" });
    } finally {
      sender.connected = true;
    }
    assert.deepEqual(await (await fetch(`${base}/healthz`)).json(), { status: "ok", broker: "connected" });
  });

  it("streams a snapshot, then device changes and broker state, as Server-Sent Events", async () => {
    const { cookie } = await login();
    const res = await fetch(`${base}/api/events`, { headers: { cookie } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
    assert.equal(res.headers.get("x-accel-buffering"), "no");
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = "";
    const readUntil = async (re: RegExp) => {
      while (!re.test(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${re}; got:\n${text}`);
        text += new TextDecoder().decode(value);
      }
    };
    await readUntil(/event: snapshot\ndata: .*\n\n/);
    store.apply("devices/pi1/status", "online");
    await readUntil(/event: device\ndata: \{"id":"pi1".*"online":true/);
    sender.emit("connection", false);
    await readUntil(/event: broker\ndata: \{"broker":"disconnected"\}/);
    await reader.cancel();
  });

  it("ends the session on logout: the old cookie no longer works and its event stream closes", async () => {
    const { cookie, csrf } = await login();
    const events = await fetch(`${base}/api/events`, { headers: { cookie } });
    const done = (async () => {
      for await (const _ of events.body as unknown as AsyncIterable<Uint8Array>) {
        // drain until the server ends the stream
      }
    })();
    const out = await post("/api/logout", { cookie, csrf });
    await done;
    assert.equal(out.status, 200);
    assert.match(out.headers.get("set-cookie") ?? "", /Max-Age=0/);
    assert.equal((await fetch(`${base}/api/devices`, { headers: { cookie } })).status, 401);
  });

  it("rate-limits login attempts per client", async () => {
    let last = 0;
    for (let i = 0; i < 8; i++)
      last = (await post("/api/login", { body: JSON.stringify({ password: "nope" }) })).status;
    assert.equal(last, 429);
    assert.ok(log.entries.some((e) => e.event === "login_rate_limited"));
  });
});
