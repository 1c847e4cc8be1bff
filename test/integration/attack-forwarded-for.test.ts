// Attack suite, local process -> web app: X-Forwarded-For. A process on the box (any user) that reaches the
// web app directly must not choose the client address the login limiter counts and the logs record. The demo
// (TCP, no proxy) ignores forwarding headers; the server's app listens on a unix socket that only nginx's
// group can open (socket(7): connect needs write permission on the socket file), and trusts only the entry
// nginx appends. Real mosquitto, real web app, real nginx on the shipped site, a real second user (nobody).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type LogEntry, memoryLogger } from "../../apps/web/log";
import { type RunningWeb, startWeb } from "../../apps/web/server";
import { groupId } from "../../apps/web/listen";
import { FIXTURES, type RenderedFixture, renderFixture } from "./daemons-fixtures";
import { type RunningNginx, startShippedNginx } from "./nginx-harness";
import { tempDir } from "../support/temp-dir";
import { type TestBroker, startTestBroker } from "../support/broker";

const PASSWORD = "forwarded-for-password";
const LIMIT = 3;

async function startApp(broker: TestBroker, listen: object, log: ReturnType<typeof memoryLogger>) {
  const cert = await broker.client("web");
  return startWeb(
    {
      listen: listen as never,
      broker: { url: broker.url, ca: broker.caFile, cert: cert.cert, key: cert.key },
      cookieSecure: false,
    },
    {
      password: PASSWORD,
      sessionSecret: "forwarded-for-session-secret-0123456789",
      logger: log,
      loginRateLimit: { windowMs: 60 * 60 * 1000, limit: LIMIT },
    },
  );
}

const failedIps = (log: { entries: LogEntry[] }) =>
  log.entries.filter((e) => e.event === "login_failed" || e.event === "login_rate_limited").map((e) => e.ip);

describe("attack: a local process sending X-Forwarded-For cannot dodge the login limiter", () => {
  const tmp = tempDir("attack-xff", { daemonsMayEnter: true });
  let broker: TestBroker;
  let r: RenderedFixture;
  const running: { close(): Promise<void> }[] = [];
  let nginx: RunningNginx | undefined;

  before(async () => {
    broker = await startTestBroker("attack-xff");
    const fixture = FIXTURES[0];
    assert.ok(fixture);
    r = await renderFixture(fixture);
  });
  after(async () => {
    await nginx?.stop();
    for (const w of running) await w.close();
    await broker?.cleanup();
    tmp.cleanup();
  });

  it("the demo's app (TCP, no proxy) counts every guess against the sender, whatever X-Forwarded-For says", async () => {
    const log = memoryLogger();
    const web: RunningWeb = await startApp(broker, { host: "127.0.0.1", port: 0 }, log);
    running.push(web);
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 3; i++) {
      const res = await fetch(`${web.url}/api/login`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-forwarded-for": `198.51.100.${i + 1}` },
        body: JSON.stringify({ password: `guess-${i}` }),
      });
      statuses.push(res.status);
    }
    assert.deepEqual(statuses, [...Array(LIMIT).fill(401), 429, 429, 429]);
    const ips = failedIps(log);
    assert.ok(ips.length >= LIMIT);
    for (const ip of ips) assert.equal(ip, "127.0.0.1", "the log names the real peer, not the forged header");
  });

  it("behind nginx: the app's socket is open to nginx's group only, and the address nginx saw is the one counted", async () => {
    // Traversable, so the socket's own mode is the only barrier (as /run/diy-web 0711 on the server).
    const socket = join(tmp.dir, "web.sock");
    const log = memoryLogger();
    const web = await startApp(broker, { socket, group: "www-data" }, log);
    running.push(web);
    assert.equal(web.url, `unix:${socket}`);
    const st = statSync(socket);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o660);
    assert.equal(st.gid, groupId("www-data"));

    // Another local user cannot connect at all; the same user given nginx's group can (the mode decides).
    const tryConnect = (gid: number) =>
      spawnSync(
        process.execPath,
        [
          "-e",
          `require("node:net").connect(${JSON.stringify(socket)}).on("connect", () => { console.log("connected"); process.exit(0); }).on("error", (e) => { console.log(e.code); process.exit(1); });`,
        ],
        { uid: 65534, gid, encoding: "utf8", timeout: 60_000 },
      ).stdout.trim();
    assert.equal(tryConnect(65534), "EACCES", "user nobody reached the web app's socket");
    assert.equal(tryConnect(groupId("www-data")), "connected");

    nginx = await startShippedNginx(tmp.dir, r, `http://unix:${socket}:`);
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 2; i++) {
      statuses.push(
        await new Promise<number>((resolve, reject) => {
          const body = JSON.stringify({ password: `guess-${i}` });
          const req = httpsRequest(
            {
              host: "127.0.0.1",
              port: nginx?.httpsPort,
              path: "/api/login",
              method: "POST",
              ca: r.ca.certPem,
              servername: "localhost",
              headers: {
                "content-type": "application/json",
                "content-length": Buffer.byteLength(body),
                "x-forwarded-for": `203.0.113.${i + 1}`,
                "x-real-ip": `203.0.113.${i + 1}`,
              },
            },
            (res) => {
              res.resume();
              res.on("end", () => resolve(res.statusCode ?? 0));
            },
          );
          req.on("error", reject);
          req.end(body);
        }),
      );
    }
    assert.deepEqual(statuses, [...Array(LIMIT).fill(401), 429, 429], nginx.log());
    const ips = failedIps(log);
    assert.ok(ips.length >= LIMIT);
    for (const ip of ips) assert.equal(ip, "127.0.0.1", "the log names the address nginx saw");
  });
});
