// The page as a browser gets it from the server: HTTPS from the shipped nginx site (the real nginx with Debian's
// nginx.conf), the web app on its unix socket with the server's settings (cookieSecure, publicOrigin: its CSP adds
// upgrade-insecure-requests), a real mosquitto and a simulated board. Here the live socket is wss:// through
// nginx's /api/live location, and the app's CSP (connect-src 'self') must let it through: CSP3 matches 'self'
// to wss: on an https: page (w3.org/TR/CSP3, "Does url match expression in origin with redirect count?").
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { BrowserContext, Page } from "playwright-core";
import { SIM_LABEL, type WebBehindNginx, startWebBehindNginx } from "../integration/web-behind-nginx";
import { tempDir } from "../support/temp-dir";
import { waitUntil } from "../support/wait";
import { SERVER_DOWN, launchChromium, watchPage } from "./chromium";

const PASSWORD = "browser-nginx-password";

describe("browser through nginx over HTTPS", () => {
  const profile = tempDir("e2e-nginx-chromium");
  const problems: string[] = [];
  let stack: WebBehindNginx | undefined;
  let browser: BrowserContext | undefined;
  let page: Page;
  let watched: ReturnType<typeof watchPage>;

  before(async () => {
    stack = await startWebBehindNginx("e2e-nginx", PASSWORD);
    // The stack's CA is not in this fresh profile's trust store (the integration tests check the certificate
    // with it); everything else about the origin is HTTPS: Secure cookie, CSP, wss.
    browser = await launchChromium(profile.dir, { ignoreHTTPSErrors: true });
    page = await browser.newPage();
    watched = watchPage(page, problems);
  });

  after(async () => {
    await browser?.close();
    await stack?.stop();
    profile.cleanup();
  });

  it("logs in over HTTPS; a click goes over wss:// through nginx, under the app's CSP, and lights the LED", async () => {
    assert.ok(stack);
    await page.goto(stack.origin);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Log in" }).click();
    const card = page.locator('[data-device="sim1"]');
    await card.locator('.online[data-online="true"]').waitFor({ timeout: 15_000 });
    const led = card.locator('.output[data-output="led"]');
    await led.and(page.locator('[data-state="off"]')).waitFor();
    await led.getByRole("switch", { name: `${SIM_LABEL} led` }).click();
    await led.and(page.locator('[data-state="on"]')).waitFor({ timeout: 10_000 });
    await waitUntil(() => stack?.device.line("led") === "on", "the simulated LED line on");

    const live = watched.liveSocket();
    assert.ok(live, "the page opened a WebSocket");
    assert.equal(live.ws.url(), `${stack.origin.replace(/^https/, "wss")}/api/live`);
    const sent = live.sent.filter((f) => f.type === "command");
    assert.equal(sent.length, 1);
    assert.ok(watched.answerTo(live, sent[0]), "answered over the socket");
    assert.deepEqual(watched.commandPosts(), []);
    // A CSP violation is a console error ("Refused to connect to ..."): none.
    assert.deepEqual(problems, [], stack.nginx.log());
  });

  it("keeps the session while the app restarts behind nginx (502 meanwhile): reconnects, and the next click works", async () => {
    assert.ok(stack);
    const old = watched.liveSocket();
    assert.ok(old);
    const led = page.locator('[data-device="sim1"] .output[data-output="led"]');
    const seenBefore = problems.length;
    const badGateway: number[] = [];
    page.on("response", (r) => {
      if (new URL(r.url()).pathname === "/api/session" && r.status() === 502) badGateway.push(r.status());
    });
    await stack.stopWeb();
    // The page asks whether its session still holds, and nginx answers for the missing app: not a logout.
    await waitUntil(() => badGateway.length > 0, "the page's session check answered 502 by nginx", {
      timeoutMs: 15_000,
    });
    await stack.startWeb();
    const fresh = await watched.reconnected(old);
    assert.equal(await page.locator("#devices").isVisible(), true, "still logged in");
    await page.locator('[data-device="sim1"] .online[data-online="true"]').waitFor({ timeout: 15_000 });
    await led.and(page.locator('[data-state="on"]')).waitFor({ timeout: 15_000 });
    await led.getByRole("switch").click();
    await led.and(page.locator('[data-state="off"]')).waitFor({ timeout: 10_000 });
    await waitUntil(() => stack?.device.line("led") === "off", "the simulated LED line off");
    const sent = fresh.sent.filter((f) => f.type === "command");
    assert.equal(sent.length, 1);
    assert.ok(watched.answerTo(fresh, sent[0]), "answered on the new socket");
    assert.deepEqual(
      problems.splice(seenBefore).filter((p) => !SERVER_DOWN.test(p)),
      [],
    );
  });
});
