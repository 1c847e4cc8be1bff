// The page's live socket as a browser on the server reaches it: the real web app on its unix socket (as
// diy-web.service runs it, with the publicOrigin and cookieSecure the program configures) behind the real nginx on
// the shipped site, a real mosquitto and the device service with its simulated LED. nginx must pass the upgrade
// on (https://nginx.org/en/docs/http/websocket.html), keep the forwarding headers the app logs and checks, and rate
// the upgrades like other /api/ requests.
import assert from "node:assert/strict";
import { request as httpsRequest } from "node:https";
import { after, before, describe, it } from "node:test";
import { commandFrame, openLive, upgradeStatus } from "../support/live-socket";
import { type WebBehindNginx, startWebBehindNginx } from "./web-behind-nginx";

const PASSWORD = "live-nginx-password";

describe("the page's live socket through nginx", () => {
  let stack: WebBehindNginx | undefined;
  let session = { cookie: "", csrf: "" };
  const nginx = () => stack?.nginx;
  const tls = () => stack?.tls ?? { ca: "", servername: "" };
  const origin = () => stack?.origin ?? "";

  /** The site's base URL as a test on this machine reaches it: nginx's port, its certificate's name. */
  const site = () => `https://127.0.0.1:${nginx()?.httpsPort}`;

  /** Logs in through nginx as the page does. */
  const login = (): Promise<{ cookie: string; csrf: string }> =>
    new Promise((resolve, reject) => {
      const body = JSON.stringify({ password: PASSWORD });
      const req = httpsRequest(
        {
          host: "127.0.0.1",
          port: nginx()?.httpsPort,
          path: "/api/login",
          method: "POST",
          ...tls(),
          headers: { "content-type": "application/json", origin: origin() },
        },
        (res) => {
          let text = "";
          res.on("data", (d) => {
            text += d;
          });
          res.on("end", () => {
            if (res.statusCode !== 200) return reject(new Error(`login: HTTP ${res.statusCode} ${text}`));
            const cookie = String(res.headers["set-cookie"]?.[0] ?? "").split(";")[0] ?? "";
            resolve({ cookie, csrf: (JSON.parse(text) as { csrfToken: string }).csrfToken });
          });
        },
      );
      req.on("error", reject);
      req.end(body);
    });

  before(async () => {
    stack = await startWebBehindNginx("web-nginx-live", PASSWORD);
    session = await login();
  });

  after(async () => {
    await stack?.stop();
  });

  it("upgrades with the session cookie: snapshot, then a command answered with the page's ref", async () => {
    // openLive waits for the snapshot: the app answered the upgrade nginx passed on.
    const live = await openLive(site(), { cookie: session.cookie, origin: origin(), tls: tls() });
    try {
      assert.equal(live.frames[0]?.broker, "connected");
      live.send(commandFrame(session.csrf, "sim1", "led", "on", "click-1"));
      const answer = await live.next(
        (f) => f.type === "device" && (f.answers ?? []).includes("click-1"),
        "the device frame answering click-1",
      );
      assert.equal(answer.device?.id, "sim1");
      assert.equal(answer.device?.outputs.find((o) => o.name === "led")?.value, "on");
      assert.equal(stack?.device.line("led"), "on", "the simulated LED line");
      assert.deepEqual(
        live.frames.filter((f) => f.type === "refused"),
        [],
      );
    } finally {
      live.close();
    }
  });

  it("refuses a cross-site Origin through nginx (403), and the app logs the client's address nginx forwarded", async () => {
    const status = await upgradeStatus(site(), { cookie: session.cookie, origin: "https://evil.example", tls: tls() });
    assert.equal(status, 403, nginx()?.log());
    const line = stack?.log.entries.find((e) => e.event === "origin_refused" && e.origin === "https://evil.example");
    assert.ok(line, "the refusal is logged");
    // X-Forwarded-For reached the app: the location repeats the server level's forwarding headers.
    assert.equal(line.ip, "127.0.0.1");
  });

  it("refuses an upgrade without a session cookie (401)", async () => {
    assert.equal(await upgradeStatus(site(), { origin: origin(), tls: tls() }), 401);
  });

  // Last: it spends this nginx's /api/ rate for 127.0.0.1.
  it("rate-limits upgrade requests like other /api/ requests (429 from nginx)", async () => {
    const statuses: number[] = [];
    // Batches until nginx answers 429: the bucket (burst 40, 10/s) empties however slowly the machine runs them.
    while (!statuses.includes(429) && statuses.length < 1000)
      statuses.push(
        ...(await Promise.all(
          Array.from({ length: 20 }, () => upgradeStatus(site(), { origin: origin(), tls: tls() })),
        )),
      );
    assert.ok(statuses.includes(429), `no 429 in ${statuses.length} upgrades${nginx()?.log()}`);
    assert.deepEqual([...new Set(statuses)].sort(), [401, 429], "the others reached the app (no session: 401)");
  });
});
