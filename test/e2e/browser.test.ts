// Headless Chromium (Debian's /usr/bin/chromium driven by playwright-core) against the local demo
// (scripts/demo.ts: real mosquitto with the rendered config, the web app, two simulated boards):
// log in, flip pi1's LED switch over the page's live socket (/api/live), see the page and the simulated
// LED file turn on; press the simulated button and see it in the timeline; see pi1's probe charted and
// the chart move when the probe's value changes; read it all on a phone-sized screen; reconnect after the
// web app restarts; log out. Screenshots in test-artifacts/.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { BrowserContext, Page } from "playwright-core";
import { type RunningDemo, startDemo } from "../../scripts/demo";
import { letMessagesArrive, waitUntil } from "../support/wait";
import { SERVER_DOWN, launchChromium, watchPage } from "./chromium";

const ARTIFACTS = join(__dirname, "..", "..", "test-artifacts");

describe("browser against the local demo", () => {
  let demo: RunningDemo;
  let browser: BrowserContext;
  let page: Page;
  const stateDir = mkdtempSync(join(tmpdir(), "diy-e2e-demo-"));
  const profile = mkdtempSync(join(tmpdir(), "diy-chromium-"));
  const problems: string[] = [];
  let watched: ReturnType<typeof watchPage>;
  const liveSocket = () => watched.liveSocket();
  const pi1Led = () => {
    const pi1 = page.locator('[data-device="pi1"]');
    return { pi1, led: pi1.locator('.output[data-output="led"]') };
  };

  before(async () => {
    demo = await startDemo({ stateDir, brokerPort: 0, webPort: 0 });
    browser = await launchChromium(profile);
    page = await browser.newPage();
    watched = watchPage(page, problems);
  });

  after(async () => {
    await browser?.close();
    await demo?.stop();
    rmSync(profile, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("logs in, flips pi1's LED switch, and sees the page and the simulated LED turn on without a reload", async () => {
    await page.goto(demo.webUrl);
    await page.getByLabel("Password").fill(demo.password);
    await page.getByRole("button", { name: "Log in" }).click();

    const pi1 = page.locator('[data-device="pi1"]');
    const led = pi1.locator('.output[data-output="led"]');
    await led.waitFor();
    await pi1.locator('.online[data-online="true"]').waitFor();
    assert.equal(await led.getAttribute("data-state"), "off");
    const ledSwitch = led.getByRole("switch", { name: /led$/ });
    assert.equal(await ledSwitch.getAttribute("aria-checked"), "false");
    assert.match((await pi1.locator(".seen").textContent()) ?? "", /^seen /);
    let navigations = 0;
    page.on("framenavigated", () => navigations++);

    // One socket, at /api/live on the page's own origin (CSP connect-src 'self' lets it through), and no
    // event stream: the snapshot came over the socket.
    const live = liveSocket();
    assert.ok(live, "the page opened a WebSocket");
    assert.equal(live.ws.url(), `${demo.webUrl.replace(/^http/, "ws")}/api/live`);
    assert.equal(watched.sockets.length, 1);
    assert.equal(live.received[0]?.type, "snapshot");
    assert.deepEqual(
      watched.requests.filter((r) => r.endsWith(" /api/events")),
      [],
      "no EventSource",
    );

    const start = performance.now();
    await ledSwitch.click();
    await pi1.locator('.output[data-output="led"][data-state="on"]').waitFor({ timeout: 10_000 });
    const ms = performance.now() - start;
    // Up as one command frame with the session's CSRF token, down as the device frame answering its ref.
    const sent = live.sent.filter((f) => f.type === "command");
    assert.equal(sent.length, 1, JSON.stringify(live.sent));
    assert.deepEqual(
      { ...sent[0], ref: undefined, csrf: undefined },
      {
        type: "command",
        device: "pi1",
        output: "led",
        value: "on",
        ref: undefined,
        csrf: undefined,
      },
    );
    assert.match(String(sent[0]?.csrf), /^\S{20,}$/);
    assert.ok(
      watched.answerTo(live, sent[0]),
      `a device frame answering ${sent[0]?.ref}: ${JSON.stringify(live.received.map((f) => f.type))}`,
    );
    assert.deepEqual(watched.commandPosts(), [], "the click sent no POST");
    assert.equal(await led.locator(".state").textContent(), "on");
    assert.equal(await led.getByRole("switch").getAttribute("aria-checked"), "true");
    assert.equal(await led.getByRole("switch").getAttribute("aria-busy"), null, "confirmed: no longer pending");
    const ledFile = demo.files.devices.pi1?.outputs.led as string;
    await waitUntil(() => readFileSync(ledFile, "utf8").trim() === "on", "pi1's simulated LED file on");
    assert.equal(
      await page.locator('[data-device="bbb1"] .output[data-output="led"]').getAttribute("data-state"),
      "off",
      "the other board is untouched",
    );
    assert.equal(navigations, 0, "no reload");

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, "e2e-demo-led-on.png"), fullPage: true });
    console.log(`# browser click -> page shows on: ${ms.toFixed(0)} ms`);
    assert.deepEqual(problems, []);
  });

  it("shows a press of pi1's simulated button live in its timeline", async () => {
    const buttonFile = demo.files.devices.pi1?.inputs.button as string;
    writeFileSync(buttonFile, "pressed\n");
    const timeline = page.locator('[data-device="pi1"] .input[data-input="button"] .timeline');
    await timeline.locator('li[data-value="pressed"]').first().waitFor({ timeout: 10_000 });
    writeFileSync(buttonFile, "released\n");
    await timeline.locator("li").first().and(page.locator('li[data-value="released"]')).waitFor({ timeout: 10_000 });
    assert.equal(await timeline.locator("li").count(), 2, "newest first: released, pressed");
    assert.deepEqual(problems, []);
  });

  it("charts pi1's probe from the history, and the chart moves when the probe's reading changes", async () => {
    const probe = page.locator('[data-device="pi1"] .sensor[data-sensor="probe"]');
    const chart = probe.locator('.chart[data-chart="pi1/probe"]');
    await chart.locator("canvas").waitFor({ timeout: 15_000 });
    await probe.locator(".value", { hasText: "°C" }).waitFor();
    await page.locator('[data-device="pi1"] .sensor[data-sensor="cpu"] .chart canvas').waitFor();
    // Two readings in the chart first, so the line has something to draw.
    // Polled from here: the page's CSP forbids evaluating strings, and this project compiles without DOM types.
    const pointsOf = async () => Number(await chart.getAttribute("data-points"));
    await waitUntil(async () => (await pointsOf()) >= 2, "two points in the probe's chart", {
      timeoutMs: 20_000,
      intervalMs: 100,
    });
    const before = await chart.screenshot();
    const probeFile = demo.files.devices.pi1?.sensors.probe as string;
    writeFileSync(probeFile, "35.5\n");
    await probe.locator(".value", { hasText: "35.5 °C" }).waitFor({ timeout: 15_000 });
    const points = await pointsOf();
    await waitUntil(async () => (await pointsOf()) > points, "a new point in the probe's chart", {
      timeoutMs: 20_000,
      intervalMs: 100,
    });
    const after = await chart.screenshot();
    assert.ok(!before.equals(after), "the chart was redrawn with the new reading");
    await page.screenshot({ path: join(ARTIFACTS, "e2e-demo-chart.png"), fullPage: true });
    // Another range comes from the history API (5-minute aggregates for a day).
    await probe.getByRole("button", { name: "day" }).click();
    await chart.and(page.locator('[data-range="day"]')).waitFor({ timeout: 10_000 });
    assert.equal(await probe.getByRole("button", { name: "day" }).getAttribute("aria-pressed"), "true");
    await chart.locator("canvas").waitFor();
    assert.deepEqual(problems, [], "no CSP violation or script error");
  });

  it("reads on a phone: one column, no sideways scrolling, the switch and chart fit", async () => {
    const phone = await browser.newPage();
    phone.on("console", (m) => {
      if (m.type() === "error") problems.push(`phone console: ${m.text()}`);
    });
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(demo.webUrl); // the session cookie is shared with the first page
    await phone.locator('.chart[data-chart="pi1/probe"] canvas').waitFor({ timeout: 15_000 });
    const overflow = await phone.evaluate(() => {
      const root = (
        globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }
      ).document.documentElement;
      return root.scrollWidth - root.clientWidth;
    });
    assert.ok(overflow <= 0, `no horizontal scrolling (${overflow}px too wide)`);
    const sw = await phone.locator('[data-device="pi1"] .switch').boundingBox();
    assert.ok(sw && sw.width >= 44 && sw.height >= 30, `a switch big enough for a finger: ${JSON.stringify(sw)}`);
    await phone.screenshot({ path: join(ARTIFACTS, "e2e-demo-phone.png"), fullPage: true });
    await phone.close();
    assert.deepEqual(problems, []);
  });

  it("shows a board going offline, and says so when it does not confirm a command", async () => {
    const bbb1 = page.locator('[data-device="bbb1"]');
    const service = demo.devices.find((d) => d.deviceId === "bbb1");
    assert.ok(service);
    await service.stop();
    await bbb1.locator('.online[data-online="false"]').waitFor({ timeout: 10_000 });
    await bbb1.getByRole("switch", { name: /led$/ }).click();
    // Pending until the device confirms: shown on the switch, which stays off.
    await bbb1.locator('.switch[aria-busy="true"][data-pending="on"]').waitFor({ timeout: 5_000 });
    assert.equal(await bbb1.locator(".output .state").textContent(), "switching on…");
    await page.locator("#message", { hasText: "did not confirm" }).waitFor({ timeout: 15_000 });
    assert.equal(await bbb1.locator('.output[data-output="led"]').getAttribute("data-state"), "off");
    assert.equal(await bbb1.getByRole("switch").getAttribute("aria-busy"), null, "no longer pending");
    await page.screenshot({ path: join(ARTIFACTS, "e2e-demo-offline.png"), fullPage: true });
    assert.deepEqual(problems, []);
  });

  // The web app's broker link goes down (the broker and the boards stay up); the restart below brings it back.
  it("says why a command was refused: with the app's broker link down, 'Command failed' and the switch stays", async () => {
    const { led } = pi1Led();
    const live = liveSocket();
    assert.ok(live);
    const state = await led.getAttribute("data-state");
    await demo.web.broker.close();
    await page.locator('#broker[data-state="disconnected"]').waitFor({ timeout: 15_000 });
    await led.getByRole("switch").click();
    await page.locator("#message", { hasText: "Command failed: broker unavailable" }).waitFor({ timeout: 10_000 });
    assert.equal(await led.getAttribute("data-state"), state);
    assert.equal(await led.getByRole("switch").getAttribute("aria-busy"), null, "no longer pending");
    const sent = live.sent.filter((f) => f.type === "command").at(-1);
    const refusal = live.received.find((f) => f.type === "refused" && f.ref === sent?.ref);
    assert.equal(refusal?.status, 503, JSON.stringify(live.received.slice(-3)));
    assert.deepEqual(problems, []);
  });

  it("reconnects after the web app restarts, and the next click goes over the new socket", async () => {
    const { pi1, led } = pi1Led();
    const old = liveSocket();
    assert.ok(old);
    const seenBefore = problems.length;
    await demo.restartWeb();
    const fresh = await watched.reconnected(old);
    await page.locator('#broker[data-state="connected"]').waitFor({ timeout: 15_000 });
    await pi1.locator('.online[data-online="true"]').waitFor({ timeout: 15_000 });
    await led.and(page.locator('[data-state="on"]')).waitFor({ timeout: 15_000 });

    await led.getByRole("switch").click();
    await led.and(page.locator('[data-state="off"]')).waitFor({ timeout: 10_000 });
    const ledFile = demo.files.devices.pi1?.outputs.led as string;
    await waitUntil(() => readFileSync(ledFile, "utf8").trim() === "off", "pi1's simulated LED file off");
    const sent = fresh.sent.filter((f) => f.type === "command");
    assert.equal(sent.length, 1);
    assert.equal(sent[0]?.value, "off");
    assert.ok(watched.answerTo(fresh, sent[0]), "answered on the new socket");
    assert.deepEqual(watched.commandPosts(), []);
    assert.equal(await page.locator("#message").textContent(), "");
    // While the app was down Chromium logged the refused connections; nothing else.
    const meanwhile = problems.splice(seenBefore);
    assert.deepEqual(
      meanwhile.filter((p) => !SERVER_DOWN.test(p)),
      [],
    );
  });

  it("logs out in another tab: the server closes this page's socket, it shows the login form, no reconnect", async () => {
    const live = liveSocket();
    assert.ok(live);
    const opened = watched.sockets.length;
    // The same session in a second tab; its logout ends the session everywhere (4401 on every socket of it).
    const other = await browser.newPage();
    await other.goto(demo.webUrl);
    await other.getByRole("button", { name: "Log out" }).click();
    await other.getByLabel("Password").waitFor();
    await other.close();
    await page.getByLabel("Password").waitFor({ timeout: 10_000 });
    assert.equal(await page.locator("#devices").isHidden(), true);
    assert.equal(live.ws.isClosed(), true, "the page's socket is closed");
    await letMessagesArrive(1500); // past the first reconnect delay (0.5 s)
    assert.equal(watched.sockets.length, opened, "no new socket after logout");
    await page.screenshot({ path: join(ARTIFACTS, "e2e-demo-logged-out.png"), fullPage: true });
    assert.deepEqual(problems, []);
  });
});
