// The page's live socket (/api/live, apps/web/live-socket.ts) against the real HTTP server and app, no broker:
// the command sender records what would be published (as in web-http.test.ts), and device states are applied to
// the store as the broker link would. The same socket against the real mosquitto and device: attack-live-socket.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { WebAppOptions } from "../../apps/web/app";
import { BrokerRejectedError } from "../../apps/web/broker";
import {
  LIVE_CLOSE,
  LIVE_MAX_FRAME_BYTES,
  LIVE_MAX_SOCKETS_PER_SESSION,
  MAX_UNANSWERED,
} from "../../apps/web/live-socket";
import { DeviceStore } from "../../apps/web/state";
import { encodeState, topics } from "../../protocol";
import { type LiveClient, commandFrame, openLive, upgradeStatus } from "../support/live-socket";
import { type RecordingWebApp, startRecordingWebApp } from "../support/web-app";
import { waitUntil } from "../support/wait";

type App = RecordingWebApp;

const running: App[] = [];
after(async () => {
  for (const a of running) await a.close();
});

async function startApp(extra: Partial<WebAppOptions> = {}): Promise<App> {
  const app = await startRecordingWebApp(
    new DeviceStore([{ id: "pi1", outputs: ["led", "relay"], inputs: [] }]),
    extra,
  );
  running.push(app);
  return app;
}

/** What the sender published, as records. */
const sentOf = (app: App) =>
  app.sender.sent.map(([device, output, value], i) => ({ device, output, value, req: app.sender.reqs[i] as string }));

/** Sends a command frame and resolves with its `refused` frame. */
async function refusal(live: LiveClient, frame: unknown, ref: string | undefined, what: string) {
  const from = live.frames.length;
  live.send(frame);
  return live.next((f) => f.type === "refused" && (ref === undefined || f.ref === ref), what, from);
}

/** A device state as the broker link hands it to the store (protocol/payloads.ts encodeState). */
function deviceAnswers(store: DeviceStore, req: string, value: "on" | "off" = "on", output = "led") {
  const r = store.apply(topics.state("pi1", output), encodeState(value, req));
  assert.ok(r.ok, JSON.stringify(r));
}

const events = (app: App, event: string) => app.log.entries.filter((e) => e.event === event);

describe("live socket: the upgrade", () => {
  it("answers 404 for another path, and opens only /api/live", async () => {
    const app = await startApp();
    const { cookie } = await app.login();
    for (const path of ["/api/events", "/api/live/", "/api/livex", "/", "/api/../api/live2"])
      assert.equal(await upgradeStatus(app.base, { path, cookie, origin: app.base }), 404, path);
    assert.equal(await upgradeStatus(app.base, { path: "/api/live?v=1", cookie, origin: app.base }), 101);
    assert.equal(await upgradeStatus(app.base, { cookie, origin: app.base }), 101);
  });

  it("refuses another site's Origin with 403 and an origin_refused line, even with the user's cookie", async () => {
    const app = await startApp();
    const { cookie } = await app.login();
    for (const origin of [
      "https://evil.example",
      "null", // a sandboxed iframe or a data: page
      `${app.base}.evil.example`,
      `http://localhost:${new URL(app.base).port}`, // another host name for the same server
    ]) {
      assert.equal(await upgradeStatus(app.base, { cookie, origin }), 403, origin);
      assert.ok(
        events(app, "origin_refused").some((e) => e.origin === origin && e.path === "/api/live"),
        `origin_refused logged for ${origin}`,
      );
    }
    // Ours (the Origin's host is the Host the request went to), and a client that sends none (not a browser).
    assert.equal(await upgradeStatus(app.base, { cookie, origin: app.base }), 101);
    assert.equal(await upgradeStatus(app.base, { cookie }), 101);
  });

  it("with publicOrigin set, admits exactly that Origin", async () => {
    const app = await startApp({ publicOrigin: "https://iot.example.com" });
    const { cookie } = await app.login();
    assert.equal(await upgradeStatus(app.base, { cookie, origin: "https://iot.example.com" }), 101);
    assert.equal(await upgradeStatus(app.base, { cookie, origin: app.base }), 403, "the Host's own origin");
    assert.equal(await upgradeStatus(app.base, { cookie, origin: "http://iot.example.com" }), 403, "http");
    assert.equal(await upgradeStatus(app.base, { cookie, origin: "https://iot.example.com.evil.example" }), 403);
  });

  it("answers 401 without a valid, unexpired, unrevoked session cookie", async () => {
    const app = await startApp();
    const ok = await app.login();
    const name = ok.cookie.split("=")[0] as string;
    const ttl = app.web.sessions.ttlMs;
    const expired = app.web.sessions.issue(Date.now() - ttl - 5_000).cookieValue;
    const value = ok.cookie.slice(name.length + 1);
    const [sid, exp, mac] = value.split(".") as [string, string, string];
    const otherSecret = (
      await startApp({ sessionSecret: "another-secret-0123456789abcdef0123" }).then((o) => o.web.sessions)
    ).issue().cookieValue;
    const cases: [string | undefined, string][] = [
      [undefined, "no cookie"],
      [`${name}=`, "empty"],
      [`${name}=garbage`, "garbage"],
      [`${name}=${expired}`, "expired"],
      [`${name}=${sid}.${Number(exp) + 3600}.${mac}`, "expiry moved on"],
      [`${name}=${sid}.${exp}.${"A".repeat(43)}`, "forged signature"],
      [`${name}=${otherSecret}`, "signed with another secret"],
      [`__Host-diy_session=${value}`, "the other cookie name"],
    ];
    for (const [cookie, what] of cases)
      assert.equal(await upgradeStatus(app.base, { ...(cookie ? { cookie } : {}), origin: app.base }), 401, what);
    assert.equal(await upgradeStatus(app.base, { cookie: ok.cookie, origin: app.base }), 101, "the real one");
    // Logged out: the same cookie is refused from then on.
    const out = await fetch(`${app.base}/api/logout`, {
      method: "POST",
      headers: { cookie: ok.cookie, "x-csrf-token": ok.csrf, "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(out.status, 200);
    assert.equal(await upgradeStatus(app.base, { cookie: ok.cookie, origin: app.base }), 401, "revoked");
  });
});

describe("live socket: command frames", () => {
  it("sends a command with the session's CSRF token, as the HTTP route does (same req format, command_sent)", async () => {
    const app = await startApp();
    const s = await app.login();
    const live = await openLive(app.base, { cookie: s.cookie, origin: app.base });
    live.send(commandFrame(s.csrf, "pi1", "led", "on", "c1"));
    await waitUntil(() => app.sender.sent.length === 1, "the live command sent");
    const http = await fetch(`${app.base}/api/devices/pi1/outputs/led`, {
      method: "POST",
      headers: { cookie: s.cookie, "x-csrf-token": s.csrf, "content-type": "application/json" },
      body: JSON.stringify({ value: "on" }),
    });
    assert.equal(http.status, 202);
    const [viaLive, viaHttp] = sentOf(app);
    assert.deepEqual({ ...viaLive, req: undefined }, { ...viaHttp, req: undefined });
    assert.deepEqual({ ...viaLive, req: undefined }, { device: "pi1", output: "led", value: "on", req: undefined });
    for (const c of [viaLive, viaHttp]) assert.match(c?.req ?? "", /^[A-Za-z0-9_-]{12}$/);
    assert.notEqual(viaLive?.req, viaHttp?.req);
    await waitUntil(() => events(app, "command_sent").length === 2, "two command_sent lines");
    const lines = events(app, "command_sent").map(({ device, output, value, req }) => ({ device, output, value, req }));
    assert.deepEqual(lines, sentOf(app));
    // The answer names the page's ref.
    deviceAnswers(app.store, viaLive?.req as string);
    const answer = await live.next((f) => f.type === "device" && f.answers !== undefined, "answer");
    assert.deepEqual(answer.answers, ["c1"]);
    assert.equal(answer.device?.outputs.find((o) => o.name === "led")?.req, viaLive?.req);
    live.close();
  });

  it("refuses a frame without the session's CSRF token (403, csrf_refused) and sends nothing", async () => {
    const app = await startApp();
    const a = await app.login();
    const b = await app.login();
    const live = await openLive(app.base, { cookie: a.cookie, origin: app.base });
    const frame = commandFrame(a.csrf, "pi1", "led", "on", "x");
    const cases: [unknown, string][] = [
      [{ ...frame, csrf: b.csrf }, "another session's token"],
      [{ ...frame, csrf: "" }, "empty"],
      [{ ...frame, csrf: `${a.csrf}x` }, "one character more"],
      [{ ...frame, csrf: a.csrf.slice(0, -1) }, "one character less"],
      [{ ...frame, csrf: a.csrf.toLowerCase() === a.csrf ? a.csrf.toUpperCase() : a.csrf.toLowerCase() }, "case"],
    ];
    for (const [f, what] of cases) {
      const r = await refusal(live, f, "x", what);
      assert.equal(r.status, 403, what);
      assert.match(r.error ?? "", /csrf/, what);
    }
    assert.equal(events(app, "csrf_refused").length, cases.length);
    assert.ok(events(app, "csrf_refused").every((e) => e.path === "/api/live"));
    assert.equal(app.sender.sent.length, 0);
    assert.ok(live.isOpen, "the socket stays up");
    live.close();
  });

  it("refuses binary, non-JSON and off-schema frames with 400, and the socket stays usable", async () => {
    const app = await startApp();
    const s = await app.login();
    const live = await openLive(app.base, { cookie: s.cookie, origin: app.base });
    const good = commandFrame(s.csrf, "pi1", "led", "on", "r");
    let from = live.frames.length;
    live.ws.send(Buffer.from(JSON.stringify(good)), { binary: true });
    const binary = await live.next((f) => f.type === "refused", "binary refused", from);
    assert.deepEqual(binary, { type: "refused", status: 400, error: "frames must be JSON text" });

    const notJson = await refusal(live, '{"type":"command",', undefined, "not JSON");
    assert.deepEqual(notJson, { type: "refused", status: 400, error: "frame is not valid JSON" });

    const offSchema: [unknown, string][] = [
      [{ ...good, extra: 1 }, "an unknown key"],
      [{ ...good, value: "blink" }, "a value not on/off/toggle"],
      [{ ...good, type: "subscribe" }, "another type"],
      [{ ...good, device: 1 }, "a number for the device"],
      [{ ...good, ref: "r".repeat(65) }, "a ref over 64 characters"],
      [{ ...good, device: "d".repeat(65) }, "a device id over 64 characters"],
      [{ type: "command", ref: "r", device: "pi1", output: "led", value: "on" }, "no csrf"],
      [[good], "an array"],
      ["null", "null"],
      ['"command"', "a string"],
      ["42", "a number"],
    ];
    for (const [f, what] of offSchema) {
      from = live.frames.length;
      live.send(typeof f === "string" ? f : JSON.stringify(f));
      const r = await live.next((x) => x.type === "refused", what, from);
      assert.equal(r.status, 400, what);
      assert.match(r.error ?? "", /frame must be \{"type": "command"/, what);
    }
    assert.equal(app.sender.sent.length, 0);
    // Unknown targets: 404, with the HTTP route's messages.
    const ghost = await refusal(live, { ...good, device: "ghost" }, "r", "unknown device");
    assert.deepEqual([ghost.status, ghost.error], [404, 'no device "ghost"']);
    const noOutput = await refusal(live, { ...good, output: "fan" }, "r", "unknown output");
    assert.deepEqual([noOutput.status, noOutput.error], [404, 'device "pi1" has no output "fan"']);
    assert.equal(app.sender.sent.length, 0);
    // After all that, the same socket still sends a good command.
    live.send(good);
    await waitUntil(() => app.sender.sent.length === 1, "the good command after the bad ones");
    assert.ok(live.isOpen);
    live.close();
  });

  it("closes a socket whose frame is over 1 KiB (1009), and nothing else", async () => {
    const app = await startApp();
    const s = await app.login();
    const big = await openLive(app.base, { cookie: s.cookie, origin: app.base });
    const other = await openLive(app.base, { cookie: s.cookie, origin: app.base });
    // Exactly the limit is a frame like any other (refused for its extra key, socket open).
    const pad = (n: number) => {
      const f = { ...commandFrame(s.csrf, "pi1", "led", "on", "p"), pad: "" };
      f.pad = "x".repeat(n - Buffer.byteLength(JSON.stringify(f)));
      return JSON.stringify(f);
    };
    assert.equal(Buffer.byteLength(pad(LIVE_MAX_FRAME_BYTES)), LIVE_MAX_FRAME_BYTES);
    const atLimit = await refusal(big, pad(LIVE_MAX_FRAME_BYTES), "p", "a frame of exactly the limit");
    assert.equal(atLimit.status, 400);
    big.send(pad(LIVE_MAX_FRAME_BYTES + 1));
    assert.equal((await big.closed()).code, 1009);
    // The other socket of the same session, and the app, carry on.
    other.send(commandFrame(s.csrf, "pi1", "led", "off", "o"));
    await waitUntil(() => app.sender.sent.length === 1, "the other socket's command");
    assert.ok(other.isOpen);
    assert.equal((await fetch(`${app.base}/healthz`)).status, 200);
    other.close();
  });

  it("refuses commands past the socket's rate with 429 and live_rate_limited; another socket has its own", async () => {
    const app = await startApp({ liveCommandRate: { perSecond: 0.001, burst: 3 } });
    const s = await app.login();
    const live = await openLive(app.base, { cookie: s.cookie, origin: app.base });
    for (let i = 0; i < 5; i++) live.send(commandFrame(s.csrf, "pi1", "led", "toggle", `t${i}`));
    const limited = await live.next((f) => f.type === "refused" && f.ref === "t4", "the fifth refused");
    assert.deepEqual(limited, { type: "refused", ref: "t4", status: 429, error: "too many commands; slow down" });
    assert.equal(live.frames.filter((f) => f.type === "refused").length, 2, "only the fourth and fifth");
    await waitUntil(() => app.sender.sent.length === 3, "the burst sent");
    assert.ok(events(app, "live_rate_limited").length >= 1);
    const second = await openLive(app.base, { cookie: s.cookie, origin: app.base });
    second.send(commandFrame(s.csrf, "pi1", "led", "on", "s"));
    await waitUntil(() => app.sender.sent.length === 4, "the other socket's own burst");
    live.close();
    second.close();
  });

  it("counts every frame against the rate, bad ones too, and writes one log line per flood", async () => {
    const app = await startApp({ liveCommandRate: { perSecond: 0.001, burst: 3 } });
    const a = await app.login();
    const b = await app.login();
    // Ten wrong-token frames: three are checked (each a csrf_refused line), the rest cut at the rate.
    const wrongToken = await openLive(app.base, { cookie: a.cookie, origin: app.base });
    for (let i = 0; i < 10; i++) wrongToken.send(commandFrame(b.csrf, "pi1", "led", "on", `w${i}`));
    await wrongToken.next((f) => f.ref === "w9", "the tenth answered");
    assert.deepEqual(
      wrongToken.frames.filter((f) => f.type === "refused").map((f) => f.status),
      [403, 403, 403, 429, 429, 429, 429, 429, 429, 429],
    );
    assert.equal(events(app, "csrf_refused").length, 3);
    assert.equal(events(app, "live_rate_limited").length, 1, "one line for the flood, not one per frame");
    // Garbage counts too: binary and non-JSON frames past the burst are refused for the rate.
    const garbage = await openLive(app.base, { cookie: a.cookie, origin: app.base });
    for (let i = 0; i < 5; i++) garbage.ws.send(Buffer.from("x"), { binary: true });
    for (let i = 0; i < 5; i++) garbage.send("x");
    await waitUntil(() => garbage.frames.filter((f) => f.type === "refused").length === 10, "ten refusals");
    assert.deepEqual(
      garbage.frames.filter((f) => f.type === "refused").map((f) => f.status),
      [400, 400, 400, 429, 429, 429, 429, 429, 429, 429],
    );
    assert.equal(events(app, "live_rate_limited").length, 2, "one more line for the second socket's flood");
    assert.equal(app.sender.sent.length, 0);
  });

  it("holds the default rate to nginx's: a burst of 40, then refusals", async () => {
    const app = await startApp();
    const s = await app.login();
    const live = await openLive(app.base, { cookie: s.cookie, origin: app.base });
    // 100 at once: past the burst of 40, the 10/s refill cannot admit the rest in the few ms they take.
    for (let i = 0; i < 100; i++) live.send(commandFrame(s.csrf, "pi1", "led", "toggle", `d${i}`));
    await waitUntil(
      () => app.sender.sent.length + live.frames.filter((f) => f.type === "refused").length === 100,
      "every frame answered or sent",
    );
    const refused = live.frames.filter((f) => f.type === "refused");
    assert.ok(app.sender.sent.length >= 40, `the burst of 40 went out (${app.sender.sent.length})`);
    assert.ok(refused.length >= 1 && refused.every((f) => f.status === 429), `refused: ${refused.length}`);
    assert.ok(
      refused.some((f) => f.ref === "d99"),
      "the last one of the flood is refused",
    );
    live.close();
  });

  it("answers a broker that is down with 503, and a publish the broker refuses with 502 and its req", async () => {
    const app = await startApp();
    const s = await app.login();
    const live = await openLive(app.base, { cookie: s.cookie, origin: app.base });
    app.sender.connected = false;
    const down = await refusal(live, commandFrame(s.csrf, "pi1", "led", "on", "d"), "d", "broker down");
    assert.equal(down.status, 503);
    assert.match(down.error ?? "", /broker unavailable/);
    assert.match(down.req ?? "", /^[A-Za-z0-9_-]{12}$/);
    app.sender.connected = true;
    // mosquitto's ACL under MQTT 5: PUBACK reason 135 "Not authorized" (BrokerLink turns it into this error).
    app.sender.refuseWith = new BrokerRejectedError("Not authorized", 135);
    const denied = await refusal(live, commandFrame(s.csrf, "pi1", "led", "on", "n"), "n", "broker refused");
    assert.equal(denied.status, 502);
    assert.equal(denied.error, "Not authorized");
    assert.match(denied.req ?? "", /^[A-Za-z0-9_-]{12}$/);
    assert.ok(events(app, "command_refused_by_broker").some((e) => e.reasonCode === 135));
    // Anything else going wrong is ours: the page learns only that it failed, the log keeps the reason.
    app.sender.refuseWith = new Error("EACCES: /var/lib/diy-web/internal-detail");
    const broken = await refusal(live, commandFrame(s.csrf, "pi1", "led", "on", "x"), "x", "internal error");
    assert.equal(broken.status, 500);
    assert.equal(broken.error, "internal error");
    assert.ok(events(app, "live_command_failed").some((e) => String(e.error).includes("internal-detail")));
    app.sender.refuseWith = undefined;
    // A later state naming the refused req is not this page's answer any more.
    deviceAnswers(app.store, denied.req as string);
    const view = await live.next((f) => f.type === "device", "the device frame");
    assert.equal(view.answers, undefined);
    live.close();
  });
});

describe("live socket: answers belong to the socket that asked", () => {
  it("names a command's ref only to its own socket; another socket of the same session gets the view alone", async () => {
    const app = await startApp();
    const s = await app.login();
    // The sibling opens first (its listener runs first) and sends the same ref: it must not be told that the
    // asker's command was answered, nor the asker of the sibling's.
    const sibling = await openLive(app.base, { cookie: s.cookie, origin: app.base });
    const asker = await openLive(app.base, { cookie: s.cookie, origin: app.base });
    asker.send(commandFrame(s.csrf, "pi1", "led", "on", "same"));
    sibling.send(commandFrame(s.csrf, "pi1", "relay", "on", "same"));
    await waitUntil(() => app.sender.sent.length === 2, "both sent");
    const reqOf = (output: string) => sentOf(app).find((c) => c.output === output)?.req as string;
    for (const [output, to, notTo] of [
      ["led", asker, sibling],
      ["relay", sibling, asker],
    ] as const) {
      const from = [to.frames.length, notTo.frames.length] as const;
      deviceAnswers(app.store, reqOf(output), "on", output);
      const mine = await to.next((f) => f.type === "device", `${output}: the asker's device frame`, from[0]);
      const theirs = await notTo.next((f) => f.type === "device", `${output}: the other's device frame`, from[1]);
      assert.deepEqual(mine.answers, ["same"], output);
      assert.equal(theirs.answers, undefined, `${output}: no answers for the other socket`);
      assert.deepEqual(theirs.device, mine.device);
    }
    asker.close();
    sibling.close();
  });

  it(`remembers at most MAX_UNANSWERED (${MAX_UNANSWERED}) commands per socket, forgetting the oldest`, async () => {
    const app = await startApp({ liveCommandRate: { perSecond: 1_000_000, burst: 1_000_000 } });
    const s = await app.login();
    const live = await openLive(app.base, { cookie: s.cookie, origin: app.base });
    for (let i = 0; i <= MAX_UNANSWERED; i++) live.send(commandFrame(s.csrf, "pi1", "led", "toggle", `m${i}`));
    await waitUntil(() => app.sender.sent.length === MAX_UNANSWERED + 1, "every command sent");
    assert.equal(live.frames.filter((f) => f.type === "refused").length, 0);
    const [first, second] = sentOf(app);
    deviceAnswers(app.store, first?.req as string, "on");
    const forgotten = await live.next((f) => f.type === "device", "the oldest's state");
    assert.equal(forgotten.answers, undefined, "the oldest was forgotten");
    const from = live.frames.length;
    deviceAnswers(app.store, second?.req as string, "off");
    const kept = await live.next((f) => f.type === "device", "the second's state", from);
    assert.deepEqual(kept.answers, ["m1"]);
    live.close();
  });
});

describe("live socket: many sockets", () => {
  it(`holds a session to ${LIVE_MAX_SOCKETS_PER_SESSION} sockets (429, live_too_many_sockets): more would multiply its rate`, async () => {
    const app = await startApp();
    const a = await app.login();
    const b = await app.login();
    const sockets: LiveClient[] = [];
    for (let i = 0; i < LIVE_MAX_SOCKETS_PER_SESSION; i++)
      sockets.push(await openLive(app.base, { cookie: a.cookie, origin: app.base }));
    assert.equal(await upgradeStatus(app.base, { cookie: a.cookie, origin: app.base }), 429);
    assert.equal(events(app, "live_too_many_sockets").length, 1);
    assert.ok(
      sockets.every((x) => x.isOpen),
      "the open ones stay open",
    );
    assert.equal(await upgradeStatus(app.base, { cookie: b.cookie, origin: app.base }), 101, "another session");
    // A closed one frees its place.
    sockets[0]?.close();
    await sockets[0]?.closed();
    const again = await openLive(app.base, { cookie: a.cookie, origin: app.base });
    for (const x of [...sockets, again]) x.close();
  });

  it("listens once on the store and the broker link for all its sockets, and not at all when none is open", async () => {
    const app = await startApp();
    const s = await app.login();
    const counts = () => [app.store.listenerCount("input"), app.sender.listenerCount("connection")];
    const none = counts();
    const sockets: LiveClient[] = [];
    for (let i = 0; i < 12; i++) sockets.push(await openLive(app.base, { cookie: s.cookie, origin: app.base }));
    assert.deepEqual(
      counts(),
      none.map((n) => n + 1),
      "one listener each for twelve sockets",
    );
    // Each still gets every frame.
    const froms = sockets.map((x) => x.frames.length);
    app.sender.emit("connection", false);
    for (const [i, x] of sockets.entries()) await x.next((f) => f.type === "broker", `socket ${i}`, froms[i]);
    for (const x of sockets) x.close();
    for (const x of sockets) await x.closed();
    await waitUntil(() => counts().every((n, i) => n === none[i]), "the listeners gone with the last socket");
  });
});

describe("live socket: when it closes", () => {
  it("closes on logout the sockets of that session (4401) and only those", async () => {
    const app = await startApp();
    const a = await app.login();
    const b = await app.login();
    const a1 = await openLive(app.base, { cookie: a.cookie, origin: app.base });
    const a2 = await openLive(app.base, { cookie: a.cookie, origin: app.base });
    const b1 = await openLive(app.base, { cookie: b.cookie, origin: app.base });
    const out = await fetch(`${app.base}/api/logout`, {
      method: "POST",
      headers: { cookie: a.cookie, "x-csrf-token": a.csrf, "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(out.status, 200);
    for (const ws of [a1, a2]) assert.equal((await ws.closed()).code, LIVE_CLOSE.sessionEnded);
    assert.equal(await upgradeStatus(app.base, { cookie: a.cookie, origin: app.base }), 401);
    b1.send(commandFrame(b.csrf, "pi1", "led", "on", "b"));
    await waitUntil(() => app.sender.sent.length === 1, "the other session's command");
    assert.ok(b1.isOpen, "the other session's socket stays open");
    b1.close();
  });

  it("closes a socket when its session expires (4401)", async () => {
    const app = await startApp();
    const ttl = app.web.sessions.ttlMs;
    // Issued so that it expires within about two seconds (cookie expiry is whole seconds).
    const issued = app.web.sessions.issue(Date.now() - ttl + 2_000);
    const live = await openLive(app.base, { cookie: `diy_session=${issued.cookieValue}`, origin: app.base });
    const closed = await live.closed();
    assert.deepEqual(closed, { code: LIVE_CLOSE.sessionEnded, reason: "session expired" });
    assert.ok(Date.now() >= issued.expires, "not before the session expired");
  });

  it("closes a socket whose peer does not answer a ping by the next one, and keeps those that do", async () => {
    const app = await startApp({ livePingMs: 50 });
    const s = await app.login();
    // A peer gone without a FIN (a phone off its network) sends no pong (RFC 6455 5.5.3: an endpoint answers a
    // ping with a pong "as soon as is practical"); a page that is there does, as browsers and ws do by themselves.
    const gone = await openLive(app.base, { cookie: s.cookie, origin: app.base, autoPong: false });
    const there = await openLive(app.base, { cookie: s.cookie, origin: app.base });
    assert.equal((await gone.closed()).code, 1006, "terminated, no close handshake");
    await new Promise((r) => setTimeout(r, 300)); // several ping periods more
    assert.ok(there.isOpen, "the page that answers stays");
    there.send(commandFrame(s.csrf, "pi1", "led", "on", "t"));
    await waitUntil(() => app.sender.sent.length === 1, "its command");
    there.close();
  });

  it("closes every socket on shutdown (1001)", async () => {
    const app = await startApp();
    const a = await app.login();
    const b = await app.login();
    const sockets = [
      await openLive(app.base, { cookie: a.cookie, origin: app.base }),
      await openLive(app.base, { cookie: b.cookie, origin: app.base }),
    ];
    app.web.closeStreams();
    for (const ws of sockets) assert.equal((await ws.closed()).code, LIVE_CLOSE.shutdown);
    await app.close();
  });

  it("drops a client that does not read once over 1 MiB is queued for it (4008); the others carry on", async () => {
    const app = await startApp();
    const s = await app.login();
    const slow = await openLive(app.base, { cookie: s.cookie, origin: app.base });
    const reader = await openLive(app.base, { cookie: s.cookie, origin: app.base });
    // The slow page stops reading its TCP socket: what the app sends queues in the kernel, then in the app.
    const tcp = (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    tcp.pause();
    // Broker up/down frames go to every socket at once (~40 bytes each): emit until the slow one is dropped.
    // The reader shares this process with the emitter, so each round waits until it has read what was sent:
    // under load it could otherwise fall 1 MiB behind too and be dropped as well (CI saw two lines once).
    let emitted = 0;
    for (let round = 0; round < 400 && events(app, "live_client_too_slow").length === 0; round++) {
      for (let i = 0; i < 5_000; i++, emitted++) app.sender.emit("connection", i % 2 === 0);
      const sent = emitted;
      await waitUntil(() => reader.frames.length >= 1 + sent, "the reader has read the round"); // + snapshot
    }
    const [line] = events(app, "live_client_too_slow");
    assert.ok(line, "live_client_too_slow logged");
    assert.ok(Number(line.buffered) > 1024 * 1024, `buffered ${line.buffered}`);
    assert.equal(events(app, "live_client_too_slow").length, 1, "once, not per frame");
    tcp.resume();
    assert.equal((await slow.closed()).code, LIVE_CLOSE.tooSlow);
    // The page that reads kept its socket, got the frames, and still sends.
    assert.ok(reader.isOpen);
    reader.send(commandFrame(s.csrf, "pi1", "led", "on", "r"));
    await waitUntil(() => app.sender.sent.length === 1, "the reader's command");
    reader.close();
  });
});
