// Attack suite, browser <-> web: the page's live socket (/api/live, apps/web/live-socket.ts). A page on another
// site holding the user's cookie, kept or forged cookies, another session's token, floods, oversized, binary,
// malformed and prototype-pollution-shaped frames, topic characters in ids, a client that stops reading, many
// sockets of one session. Real mosquitto with the rendered ACL, the real web app, real device services; an
// observer identity reading `#` sees every publish, so "nothing reached the broker" is seen, not assumed.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { MqttClient } from "mqtt";
import { LIVE_CLOSE, LIVE_MAX_BUFFERED_BYTES, LIVE_MAX_SOCKETS_PER_SESSION } from "../../apps/web/live-socket";
import { createSessions, sessionCookieName } from "../../apps/web/session";
import { type LiveClient, commandFrame, openLive, upgradeStatus } from "../support/live-socket";
import { type Received, collect, subscribe } from "../support/mqtt";
import { letMessagesArrive, waitUntil } from "../support/wait";
import { ATTACK_PASSWORD, ATTACK_SESSION_SECRET, type AttackStack, OBSERVER, startAttackStack } from "./attack-support";
import { login } from "./web-harness";

const COOKIE = sessionCookieName(false);

describe("attack: the page's live socket", () => {
  let stack: AttackStack;
  let observer: MqttClient;
  let seen: Received[];
  /** The user's own page: its socket must keep working whatever the attacks did. */
  let page: LiveClient;

  before(async () => {
    stack = await startAttackStack("attack-live-socket", [{ id: "sim1" }, { id: "sim2", outputs: ["led", "fan"] }]);
    observer = await stack.broker.connect(OBSERVER);
    seen = collect(observer);
    await subscribe(observer, "#");
    page = await openLive(stack.web.url, { cookie: stack.session.cookie, origin: stack.web.url });
  });
  after(async () => {
    observer?.end(true);
    await stack?.cleanup();
  });

  const base = () => stack.web.url;
  /** Every command publish the broker delivered (set topics), from index `from` of what the observer saw. */
  const setsSeen = (from = 0) => seen.slice(from).filter((m) => m.topic.split("/").at(-1) === "set");
  const logged = (event: string, from = 0) => stack.log.entries.slice(from).filter((e) => e.event === event);

  /** The user's page still clicks through to the LED (socket -> broker -> device -> back with its answer). */
  async function pageStillWorks(value: "on" | "off") {
    const ref = `check-${randomBytes(4).toString("hex")}`;
    const from = page.frames.length;
    page.send(commandFrame(stack.session.csrf, "sim1", "led", value, ref));
    const answer = await page.next((f) => f.answers?.includes(ref) === true, `answer to ${ref}`, from);
    assert.equal(answer.device?.outputs.find((o) => o.name === "led")?.value, value);
    assert.equal(stack.devices.sim1?.line("led"), value);
  }

  /** Sends frames on a socket and collects one `refused` frame per frame sent (in order). */
  async function refusedFor(live: LiveClient, frames: readonly unknown[], what: string) {
    const from = live.frames.length;
    for (const f of frames) live.send(f);
    await waitUntil(
      () => live.frames.slice(from).filter((f) => f.type === "refused").length >= frames.length,
      `${frames.length} refusals: ${what}`,
    );
    return live.frames.slice(from).filter((f) => f.type === "refused");
  }

  it("a command from the socket reaches the broker exactly as one from the HTTP route", async () => {
    const from = seen.length;
    const logFrom = stack.log.entries.length;
    const http = await stack.command("sim1", "led", "on");
    assert.equal(http.status, 202);
    await pageStillWorks("off");
    await waitUntil(() => setsSeen(from).length === 2, "both publishes seen");
    const [viaHttp, viaLive] = setsSeen(from).map((m) => ({ ...m, payload: JSON.parse(m.payload) as object }));
    assert.deepEqual(viaHttp, {
      topic: "devices/sim1/out/led/set",
      payload: { value: "on", req: http.req },
      retain: false,
    });
    const liveReq = (viaLive?.payload as { req?: string } | undefined)?.req ?? "";
    assert.deepEqual(viaLive, {
      topic: "devices/sim1/out/led/set",
      payload: { value: "off", req: liveReq },
      retain: false,
    });
    for (const req of [http.req, liveReq]) assert.match(req ?? "", /^[A-Za-z0-9_-]{12}$/);
    assert.deepEqual(
      logged("command_sent", logFrom).map(({ device, output, value, req }) => [device, output, value, req]),
      [
        ["sim1", "led", "on", http.req],
        ["sim1", "led", "off", liveReq],
      ],
    );
  });

  it("a page on another site cannot open the socket with the user's cookie (cross-site WebSocket hijacking)", async () => {
    const { cookie } = stack.session;
    const port = new URL(base()).port;
    const logFrom = stack.log.entries.length;
    // What a browser sends from each: its own origin, whatever the page's script does.
    const foreign = [
      "https://evil.example",
      `http://127.0.0.1:${port}.evil.example`,
      `http://127.0.0.1.evil.example:${port}`,
      `http://localhost:${port}`,
      "null",
      "file://",
    ];
    for (const origin of foreign) assert.equal(await upgradeStatus(base(), { cookie, origin }), 403, origin);
    assert.deepEqual(
      logged("origin_refused", logFrom).map((e) => [e.origin, e.path]),
      foreign.map((o) => [o, "/api/live"]),
    );
    assert.equal(await upgradeStatus(base(), { cookie, origin: base() }), 101, "the page's own origin");
    await pageStillWorks("on");
  });

  it("forged, expired, another secret's and logged-out cookies cannot open it", async () => {
    const sets = seen.length;
    const same = createSessions({ secret: ATTACK_SESSION_SECRET, password: ATTACK_PASSWORD });
    const ttl = same.ttlMs;
    const cookies: [string, string][] = [
      // The attacker knows the format (session.ts): sid.expiry.mac, with a made-up mac.
      [
        `${randomBytes(18).toString("base64url")}.${Math.floor(Date.now() / 1000) + 3600}.${randomBytes(32).toString("base64url")}`,
        "forged",
      ],
      // Validly signed, but expired: the attacker kept an old cookie (minted here with the app's own keys).
      [same.issue(Date.now() - ttl - 60_000).cookieValue, "expired"],
      [
        createSessions({ secret: "another-stack-secret-0123456789abcdef", password: ATTACK_PASSWORD }).issue()
          .cookieValue,
        "another stack's secret",
      ],
      [
        createSessions({ secret: ATTACK_SESSION_SECRET, password: "an old password" }).issue().cookieValue,
        "an old password's key",
      ],
    ];
    for (const [value, what] of cookies)
      assert.equal(await upgradeStatus(base(), { cookie: `${COOKIE}=${value}`, origin: base() }), 401, what);

    const kept = await login(base(), ATTACK_PASSWORD);
    const open = await openLive(base(), { cookie: kept.cookie, origin: base() });
    const res = await fetch(`${base()}/api/logout`, {
      method: "POST",
      headers: { cookie: kept.cookie, "x-csrf-token": kept.csrf, "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(res.status, 200);
    assert.equal((await open.closed()).code, LIVE_CLOSE.sessionEnded, "its open socket closes on logout");
    assert.equal(await upgradeStatus(base(), { cookie: kept.cookie, origin: base() }), 401, "a kept copy after logout");
    assert.deepEqual(setsSeen(sets), [], "nothing published");
  });

  it("a CSRF token from another session sends nothing", async () => {
    const other = await login(base(), ATTACK_PASSWORD);
    const live = await openLive(base(), { cookie: stack.session.cookie, origin: base() });
    const sets = setsSeen().length;
    const [r] = await refusedFor(live, [commandFrame(other.csrf, "sim2", "led", "on", "x")], "another's token");
    assert.deepEqual([r?.status, r?.ref], [403, "x"]);
    await letMessagesArrive();
    assert.equal(setsSeen().length, sets, "nothing published");
    assert.equal(stack.devices.sim2?.applied.length, 0);
    live.close();
  });

  it("prototype-pollution-shaped frames are refused whole and pollute nothing", async () => {
    const csrf = stack.session.csrf;
    const good = JSON.stringify(commandFrame(csrf, "sim2", "led", "on", "p"));
    const sets = setsSeen().length;
    const frames = [
      `{"__proto__":{"csrf":"${csrf}"},"type":"command","ref":"p","device":"sim2","output":"led","value":"on"}`,
      `{"__proto__":{"isAdmin":true},${good.slice(1)}`,
      `{"constructor":{"prototype":{"polluted":true}},${good.slice(1)}`,
      `{"type":"command","ref":"p","csrf":{"__proto__":"${csrf}"},"device":"sim2","output":"led","value":"on"}`,
      `{"type":"command","ref":"p","csrf":["${csrf}"],"device":"sim2","output":"led","value":"on"}`,
    ];
    // A socket of its own: the user's page keeps its rate for its clicks (every frame counts against it).
    const live = await openLive(base(), { cookie: stack.session.cookie, origin: base() });
    const refused = await refusedFor(live, frames, "pollution-shaped frames");
    assert.deepEqual(
      refused.map((f) => f.status),
      frames.map(() => 400),
    );
    // Names that are properties of every object are not devices or outputs.
    const names = ["__proto__", "constructor", "prototype", "hasOwnProperty", "toString", "valueOf"];
    const byName = await refusedFor(
      live,
      [
        ...names.map((n) => commandFrame(csrf, n, "led", "on", "n")),
        ...names.map((n) => commandFrame(csrf, "sim2", n, "on", "n")),
      ],
      "object property names as ids",
    );
    assert.deepEqual(
      byName.map((f) => f.status),
      byName.map(() => 404),
    );
    const probe = {} as Record<string, unknown>;
    for (const k of ["csrf", "isAdmin", "polluted"]) assert.equal(probe[k], undefined, `Object.prototype.${k}`);
    await letMessagesArrive();
    assert.equal(setsSeen().length, sets, "nothing published");
    assert.equal(stack.devices.sim2?.applied.length, 0);
    live.close();
    await pageStillWorks("off");
  });

  it("ids with topic characters (+ # /), traversal or look-alike unicode never reach the broker", async () => {
    const csrf = stack.session.csrf;
    const sets = seen.length;
    const devices = [
      "+",
      "#",
      "sim2/out/led/set",
      "sim2/+",
      "sim2/#",
      "../sim2",
      "sim2/..",
      "$SYS",
      "sim2\u0000",
      "sim2 ",
      "SIM2",
      "\u0455im2", // Cyrillic dze, looks like "s"
      "sim\uff12", // fullwidth 2
      "",
      "sim2%2Fout",
    ];
    const outputs = ["+", "#", "led/set", "led/+", "+/set", "../fan", "l\u0435d", "led\n", "", "LED"];
    const frames = [
      ...devices.map((d) => commandFrame(csrf, d, "led", "on", "id")),
      ...outputs.map((o) => commandFrame(csrf, "sim2", o, "on", "id")),
    ];
    const live = await openLive(base(), { cookie: stack.session.cookie, origin: base() });
    const refused = await refusedFor(live, frames, "topic characters in ids");
    assert.deepEqual(
      refused.map((f) => f.status),
      frames.map(() => 404),
    );
    for (const f of refused) assert.doesNotMatch(f.error ?? "", /[^\x20-\x7e]/, "the echoed id is printable");
    await letMessagesArrive();
    assert.deepEqual(
      setsSeen(sets).map((m) => m.topic),
      [],
      "no command publish at all",
    );
    assert.equal(stack.devices.sim2?.applied.length, 0);
    live.close();
  });

  it("oversized frames close only their socket (1009), binary and malformed ones are refused; nothing is published", async () => {
    const csrf = stack.session.csrf;
    const sets = seen.length;
    for (const size of [1025, 64 * 1024, 1024 * 1024]) {
      const big = await openLive(base(), { cookie: stack.session.cookie, origin: base() });
      big.send(JSON.stringify({ ...commandFrame(csrf, "sim2", "led", "on"), pad: "x".repeat(size) }));
      assert.equal((await big.closed()).code, 1009, `${size} bytes`);
    }
    // The limit counts the whole message, not each fragment.
    const fragmented = await openLive(base(), { cookie: stack.session.cookie, origin: base() });
    for (let i = 0; i < 3; i++) fragmented.ws.send("x".repeat(500), { fin: i === 2 });
    assert.equal((await fragmented.closed()).code, 1009, "three 500-byte fragments");

    const live = await openLive(base(), { cookie: stack.session.cookie, origin: base() });
    const from = live.frames.length;
    live.ws.send(Buffer.from(JSON.stringify(commandFrame(csrf, "sim2", "led", "on", "b"))), { binary: true });
    const malformed = ["", "{", "}", "\u0000", "nul", "[".repeat(400) + "]".repeat(400), '{"type":"command"'];
    for (const m of malformed) live.send(m);
    await waitUntil(
      () => live.frames.slice(from).filter((f) => f.type === "refused").length === 1 + malformed.length,
      "one refusal per frame",
    );
    assert.ok(live.frames.slice(from).every((f) => f.type !== "refused" || f.status === 400));
    await letMessagesArrive();
    assert.deepEqual(setsSeen(sets), [], "nothing published");
    assert.ok(live.isOpen, "a bad frame does not cost the socket");
    live.close();
    await pageStillWorks("on");
  });

  it("a command flood is cut at the socket's rate: only what it admits reaches the broker, each once", async () => {
    const live = await openLive(base(), { cookie: stack.session.cookie, origin: base() });
    const sets = seen.length;
    const appliedBefore = stack.devices.sim2?.applied.length ?? 0;
    const FLOOD = 500;
    const from = live.frames.length;
    for (let i = 0; i < FLOOD; i++) live.send(commandFrame(stack.session.csrf, "sim2", "fan", "toggle", `f${i}`));
    const refusedNow = () => live.frames.slice(from).filter((f) => f.type === "refused");
    const sent = () => setsSeen(sets).length;
    await waitUntil(() => refusedNow().length + sent() >= FLOOD, "every frame refused or published", {
      timeoutMs: 30_000,
    });
    const refused = refusedNow();
    assert.ok(refused.every((f) => f.status === 429));
    assert.ok(sent() >= 40 && refused.length > 0, `published ${sent()}, refused ${refused.length}`);
    assert.equal(sent() + refused.length, FLOOD, "each admitted command published once, no refused one");
    assert.ok(setsSeen(sets).every((m) => m.topic === "devices/sim2/out/fan/set" && !m.retain));
    await waitUntil(
      () => (stack.devices.sim2?.applied.length ?? 0) - appliedBefore === sent(),
      "the device applied exactly the admitted commands",
    );
    live.close();
  });

  it("a flood of bad frames writes a bounded number of log lines", async () => {
    const logFrom = stack.log.entries.length;
    const other = await login(base(), ATTACK_PASSWORD);
    const live = await openLive(base(), { cookie: stack.session.cookie, origin: base() });
    const FLOOD = 2_000;
    // Wrong-token frames (each one a csrf_refused warning before the fix) and then valid ones past the rate.
    const wrong = Array.from({ length: FLOOD }, (_, i) => commandFrame(other.csrf, "sim2", "fan", "on", `w${i}`));
    await refusedFor(live, wrong, "wrong-token flood");
    const lines = stack.log.entries.slice(logFrom).filter((e) => e.level !== "debug");
    // The socket's burst (40) plus what its rate refills meanwhile, plus one rate-limit line per flood.
    assert.ok(lines.length < 100, `${lines.length} log lines for ${FLOOD} frames: ${JSON.stringify(lines.slice(-3))}`);
    live.close();
  });

  it("a client that does not read is dropped once 1 MiB waits for it; the app keeps serving the others", async () => {
    const logFrom = stack.log.entries.length;
    const slow = await openLive(base(), { cookie: stack.session.cookie, origin: base() });
    // It stops reading its TCP socket and sends garbage: each frame is answered by a refusal it never reads.
    const tcp = (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    tcp.pause();
    // The kernel holds some MB first (a sender buffer of up to tcp_wmem max; the paused reader's stays small).
    let roundsSent = 0;
    for (; roundsSent < 400 && logged("live_client_too_slow", logFrom).length === 0; roundsSent++) {
      for (let i = 0; i < 2_000; i++) slow.send("x");
      await new Promise((r) => setTimeout(r, 20));
    }
    const [line] = logged("live_client_too_slow", logFrom);
    assert.ok(line && Number(line.buffered) > LIVE_MAX_BUFFERED_BYTES, `dropped: ${JSON.stringify(line)}`);
    console.log(`# slow reader dropped after ${roundsSent * 2_000} frames`);
    await pageStillWorks("off");
    const health = await fetch(`${base()}/healthz`);
    assert.equal(health.status, 200);
    tcp.resume();
    assert.equal((await slow.closed(30_000)).code, LIVE_CLOSE.tooSlow);
  });

  it("many sockets of one session: no more than the cap, each told of its own commands only; logout closes them all and only them", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on("warning", onWarning);
    try {
      const victim = await login(base(), ATTACK_PASSWORD);
      const logFrom = stack.log.entries.length;
      // One stolen cookie opening socket after socket: each has its own rate, so their number is capped.
      const sockets: LiveClient[] = [];
      for (let i = 0; i < 50; i++) {
        try {
          sockets.push(await openLive(base(), { cookie: victim.cookie, origin: base() }));
        } catch (e) {
          assert.match(String(e), /HTTP 429/);
          break;
        }
      }
      assert.equal(sockets.length, LIVE_MAX_SOCKETS_PER_SESSION, "sockets one session holds at once");
      assert.ok(logged("live_too_many_sockets", logFrom).length >= 1);
      const froms = sockets.map((s) => s.frames.length);
      for (const [i, s] of sockets.entries()) s.send(commandFrame(victim.csrf, "sim2", "led", "toggle", `s${i}`));
      for (const [i, s] of sockets.entries()) {
        const mine = await s.next((f) => f.answers !== undefined, `socket ${i}'s answer`, froms[i]);
        assert.deepEqual(mine.answers, [`s${i}`], `socket ${i} is told of its own command only`);
        const all = s.frames.slice(froms[i]).flatMap((f) => f.answers ?? []);
        assert.deepEqual(all, [`s${i}`], `socket ${i} saw no other socket's ref`);
      }
      const res = await fetch(`${base()}/api/logout`, {
        method: "POST",
        headers: { cookie: victim.cookie, "x-csrf-token": victim.csrf, "content-type": "application/json" },
        body: "{}",
      });
      assert.equal(res.status, 200);
      for (const s of sockets) assert.equal((await s.closed()).code, LIVE_CLOSE.sessionEnded);
      assert.ok(page.isOpen, "the other session's page stays open");
      await pageStillWorks("on");
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(warnings, [], "no warnings (a MaxListenersExceededWarning is a 'possible memory leak')");
    } finally {
      process.off("warning", onWarning);
    }
  });
});
