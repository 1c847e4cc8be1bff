// The single-file bundle the server runs (/opt/diy-web/web.js): infra/bundle.ts, page inlined,
// started as its own process with a config file and secrets in the environment, like diy-web.service.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { bundle as buildBundle } from "../../infra/bundle";
import { encodeState, topics } from "../../protocol";
import { TRACE_HOPS } from "../../protocol/trace";
import { login, openEvents, postCommand } from "./web-harness";
import { freePort } from "../support/ports";
import { openLive } from "../support/live-socket";
import { waitUntil } from "../support/wait";
import { type TestBroker, startTestBroker } from "../support/broker";
import { publish, subscribe } from "../support/mqtt";

const PASSWORD = "bundle-test-password";
const SECRET = "bundle-test-session-secret-0123456789abcdef";

describe("web.js bundle", () => {
  let broker: TestBroker;
  let bundle = "";

  before(async () => {
    broker = await startTestBroker("web-bundle", { devices: [{ id: "pi1", outputs: ["led"], inputs: [] }] });
    // What the push installs: web.js alone, no public/ beside it.
    mkdirSync(join(broker.dir, "opt"));
    bundle = join(broker.dir, "opt", "web.js");
    writeFileSync(bundle, buildBundle("web").code);
  });
  after(() => broker.cleanup());

  /** A config for the bundle on a free port, connected to the test broker as `web`, with pi1's led. */
  const writeConfig = async (name: string, extra: Record<string, unknown> = {}) => {
    const web = await broker.client("web");
    const port = await freePort();
    const cfg = join(broker.dir, name);
    writeFileSync(
      cfg,
      JSON.stringify({
        listen: { host: "127.0.0.1", port },
        broker: { url: broker.url, ca: broker.caFile, cert: web.cert, key: web.key },
        devices: [{ id: "pi1", outputs: ["led"] }],
        cookieSecure: false,
        ...extra,
      }),
    );
    return { cfg, port };
  };

  it("exits 2 naming the bad key when the config is invalid, without printing secrets", () => {
    const cfg = join(broker.dir, "bad.json");
    writeFileSync(cfg, JSON.stringify({ broker: { url: "mqtt://x:1883", ca: "a", cert: "b", key: "c" } }));
    const r = spawnSync(process.execPath, [bundle, "--config", cfg], {
      env: { PATH: process.env.PATH, DIY_WEB_PASSWORD: PASSWORD, DIY_SESSION_SECRET: SECRET },
      encoding: "utf8",
    });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /broker\.url: must be "mqtts:\/\/host:port"/);
    assert.doesNotMatch(r.stdout + r.stderr, new RegExp(`${PASSWORD}|${SECRET}`));
  });

  it("serves the inlined page, connects to the broker, logs JSON lines and stops on SIGTERM", async (t) => {
    const historyFile = join(broker.dir, "state", "history.db");
    // SQLite's WebAssembly is inlined: no node_modules and no .wasm beside web.js.
    const { cfg, port } = await writeConfig("config.json", { history: { file: historyFile } });
    // The bundle runs from a directory without apps/web/public: the page must come from inside it.
    const proc = spawn(process.execPath, [bundle], {
      cwd: join(broker.dir, "opt"),
      env: { PATH: process.env.PATH, DIY_WEB_CONFIG: cfg, DIY_WEB_PASSWORD: PASSWORD, DIY_SESSION_SECRET: SECRET },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    proc.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    proc.stderr.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
    t.after(() => proc.kill("SIGKILL"));
    const base = `http://127.0.0.1:${port}`;
    await waitUntil(
      async () => (await fetch(`${base}/healthz`).catch(() => undefined))?.status === 200,
      `healthz 200; output:\n${out}`,
      // Generous: compiling SQLite's WebAssembly at start takes seconds on a loaded 2-core machine.
      { timeoutMs: 30_000 },
    );
    const page = await (await fetch(`${base}/`)).text();
    assert.match(page, /<title>DIY Device Cloud<\/title>/);
    assert.match(await (await fetch(`${base}/app.js`)).text(), /\/api\/live/);
    const { cookie } = await login(base, PASSWORD);
    assert.equal((await fetch(`${base}/api/devices`, { headers: { cookie } })).status, 200);
    // The page's live socket, from the bundled ws (openLive resolves on its snapshot).
    const live = await openLive(base, { cookie, origin: base });
    assert.equal(live.frames[0]?.type, "snapshot");
    live.close();
    assert.equal((await fetch(`${base}/no-such-page`)).status, 404);
    proc.kill("SIGTERM");
    assert.equal(await exited, 0);
    const lines = out.trim().split("\n");
    for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), `not a JSON log line: ${line}`);
    const events = lines.map((l) => (JSON.parse(l) as { event: string }).event);
    for (const e of ["broker_connected", "web_listening", "login", "http", "shutdown"])
      assert.ok(events.includes(e), `${e} in ${events}`);
    // Requests that went wrong are logged at info; answered ones only at debug (nginx keeps the access log).
    const http = lines
      .map((l) => JSON.parse(l) as { event: string; path?: string; status?: number })
      .filter((l) => l.event === "http");
    // (/healthz may have answered 503 while the broker connection was still coming up: that one counts as wrong.)
    assert.deepEqual(
      http.filter((l) => (l.status ?? 0) < 400),
      [],
    );
    assert.ok(
      http.some((l) => l.path === "/no-such-page" && l.status === 404),
      JSON.stringify(http),
    );
    assert.ok(!out.includes(PASSWORD) && !out.includes(SECRET), "no secret in the logs");
    assert.ok(!out.includes(cookie.split("=")[1] as string), "no session cookie in the logs");
    // The history database it created is a real SQLite file that the native sqlite3 reads: schema in
    // place, integrity intact, WAL checkpointed and the VFS lock released on SIGTERM.
    const check = spawnSync(
      "sqlite3",
      [
        historyFile,
        "PRAGMA integrity_check; PRAGMA user_version; SELECT name FROM sqlite_master WHERE type='table' ORDER BY name;",
      ],
      { encoding: "utf8" },
    );
    assert.equal(check.status, 0, check.stderr);
    assert.deepEqual(check.stdout.trim().split("\n"), ["ok", "1", "agg5m", "events", "raw", "series"]);
    assert.equal(existsSync(`${historyFile}.lock`), false);
    assert.equal(existsSync(`${historyFile}-wal`) ? statSync(`${historyFile}-wal`).size : 0, 0);
  });

  it("with DIY_LATENCY_TRACE, writes a click's web hops in path order at exit (the click benchmark's breakdown)", async (t) => {
    const { cfg, port } = await writeConfig("trace-config.json");
    const traceFile = join(broker.dir, "web.trace");
    const proc = spawn(process.execPath, [bundle, "--config", cfg], {
      env: {
        PATH: process.env.PATH,
        DIY_WEB_PASSWORD: PASSWORD,
        DIY_SESSION_SECRET: SECRET,
        DIY_LATENCY_TRACE: traceFile,
      },
      stdio: "ignore",
    });
    const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
    t.after(() => proc.kill("SIGKILL"));
    // pi1 answers each command with its state, carrying the command's req, as the device service does.
    const device = await broker.connect("pi1");
    t.after(() => device.end(true));
    await subscribe(device, topics.set("pi1", "led"));
    device.on("message", (_topic, payload) => {
      const { req } = JSON.parse(payload.toString()) as { req: string };
      void publish(device, topics.state("pi1", "led"), encodeState("on", req), true);
    });
    const base = `http://127.0.0.1:${port}`;
    await waitUntil(
      async () => (await fetch(`${base}/healthz`).catch(() => undefined))?.status === 200,
      "healthz 200",
      { timeoutMs: 30_000 },
    );
    const session = await login(base, PASSWORD);
    const events = await openEvents(base, session.cookie);
    t.after(() => events.close());
    const res = await postCommand(base, session, "pi1", "led", "on");
    assert.equal(res.status, 202);
    const { req } = (await res.json()) as { req: string };
    await events.next(
      (e) => e.event === "device" && JSON.stringify(e.data).includes(req),
      `the state with req ${req} on the page`,
    );
    assert.equal(existsSync(traceFile), false, "nothing is written on the hot path");
    proc.kill("SIGTERM");
    assert.equal(await exited, 0);
    const lines = readFileSync(traceFile, "utf8")
      .split("\n")
      .map((l) => l.split(" "));
    // The request is received before its req exists: that hop carries none; it is the one just before the publish.
    const published = lines.findIndex(([, hop, r]) => hop === "command-published" && r === req);
    assert.ok(published > 0, lines.join("\n"));
    assert.deepEqual(lines[published - 1]?.slice(1), ["request-received", ""]);
    const mine = [lines[published - 1] ?? [], ...lines.filter(([, , r]) => r === req)];
    assert.deepEqual(
      mine.map(([, hop]) => hop).sort((a, b) => TRACE_HOPS.indexOf(a as never) - TRACE_HOPS.indexOf(b as never)),
      ["request-received", "command-published", "state-received", "event-written", "publish-acked"],
    );
    const at = (hop: string) => Number(mine.find(([, h]) => h === hop)?.[0]);
    const path = ["request-received", "command-published", "state-received", "event-written"].map(at);
    assert.ok(
      path.every((v, i) => Number.isFinite(v) && v >= (path[i - 1] ?? 0)),
      path.join(" "),
    );
    assert.ok(at("publish-acked") >= at("command-published"));
  });
});
