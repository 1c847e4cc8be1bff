// Headless Chromium (Debian's /usr/bin/chromium driven by playwright-core) against the web app,
// a real mosquitto and a simulated device: log in, click the LED's "On", see the page and the
// simulated LED file turn on. Screenshot in test-artifacts/.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type BrowserContext, chromium } from "playwright-core";
import { type RunningWeb, startWeb } from "../../apps/web/server";
import { memoryLogger } from "../../apps/web/log";
import { parseDeviceConfig } from "../../device/config";
import { silentLogger } from "../../device/log";
import { type DeviceService, startDeviceService } from "../../device/service";
import { type TestBroker, eventually, startTestBroker } from "../integration/web-harness";

const CHROMIUM = "/usr/bin/chromium";
const PASSWORD = "e2e-password";
const ARTIFACTS = join(__dirname, "..", "..", "test-artifacts");

describe("browser: click the LED", { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} not installed (apt-get install chromium)` }, () => {
  let broker: TestBroker;
  let device: DeviceService;
  let web: RunningWeb;
  let browser: BrowserContext;
  let ledFile = "";
  const profile = mkdtempSync(join(tmpdir(), "diy-chromium-"));

  before(async () => {
    broker = await startTestBroker("e2e");
    const dev = await broker.client("sim1");
    const webCert = await broker.client("web");
    ledFile = join(broker.dir, "sim1", "led.state");
    device = await startDeviceService({
      config: parseDeviceConfig({
        deviceId: "sim1",
        broker: { url: broker.url, ca: broker.caFile, cert: dev.cert, key: dev.key },
        outputs: [{ name: "led", safeState: "off", backend: { type: "simulated", file: ledFile } }],
        inputs: [],
        stateDir: join(broker.dir, "sim1"),
      }),
      log: silentLogger,
    });
    web = await startWeb(
      {
        listen: { host: "127.0.0.1", port: 0 },
        broker: { url: broker.url, ca: broker.caFile, cert: webCert.cert, key: webCert.key },
        devices: [{ id: "sim1", label: "Simulated Pi", outputs: ["led"], inputs: [] }],
        cookieSecure: false,
      },
      { password: PASSWORD, sessionSecret: "e2e-session-secret-0123456789abcdef", logger: memoryLogger() },
    );
    await eventually(() => web.store.get("sim1")?.online === true, "sim1 online");
    // A fresh profile directory per run (playwright passes it as --user-data-dir).
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  });

  after(async () => {
    await browser?.close();
    await web?.close();
    await device?.stop();
    await broker?.cleanup();
    rmSync(profile, { recursive: true, force: true });
  });

  it("logs in, clicks On, and sees the page and the simulated LED turn on without a reload", async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console: ${m.text()}`);
    });
    await page.goto(web.url);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Log in" }).click();

    const led = page.locator('[data-device="sim1"] .output[data-output="led"]');
    await led.waitFor();
    assert.equal(await page.locator('[data-device="sim1"] .online').textContent(), "online");
    assert.equal(await led.getAttribute("data-state"), "off");
    let navigations = 0;
    page.on("framenavigated", () => navigations++);

    const start = performance.now();
    await led.getByRole("button", { name: "Simulated Pi led on" }).click();
    await page.locator('[data-device="sim1"] .output[data-output="led"][data-state="on"]').waitFor({ timeout: 10_000 });
    const ms = performance.now() - start;
    assert.equal(await led.locator(".state").textContent(), "on");
    await eventually(() => readFileSync(ledFile, "utf8").trim() === "on", "simulated LED file on");
    assert.equal(navigations, 0, "no reload");

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, "e2e-led-on.png"), fullPage: true });
    console.log(`# browser click -> page shows on: ${ms.toFixed(0)} ms`);
    assert.deepEqual(problems, []);
  });
});
