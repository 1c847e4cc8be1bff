// Headless Chromium (Debian's /usr/bin/chromium driven by playwright-core) against the local demo
// (scripts/demo.ts: real mosquitto with the rendered config, the web app, two simulated boards):
// log in, click pi1's LED "On", see the page and the simulated LED file turn on; press the
// simulated button and see the page show it. Screenshots in test-artifacts/.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type BrowserContext, type Page, chromium } from "playwright-core";
import { type RunningDemo, startDemo } from "../../scripts/demo";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = join(__dirname, "..", "..", "test-artifacts");

async function eventually(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("browser against the local demo", () => {
  let demo: RunningDemo;
  let browser: BrowserContext;
  let page: Page;
  const stateDir = mkdtempSync(join(tmpdir(), "diy-e2e-demo-"));
  const profile = mkdtempSync(join(tmpdir(), "diy-chromium-"));
  const problems: string[] = [];

  before(async () => {
    // Fail, not skip: a missing browser must not pass for a tested page.
    assert.ok(
      existsSync(CHROMIUM),
      `${CHROMIUM} is not installed: run bash scripts/setup.sh test (or apt-get install chromium)`,
    );
    demo = await startDemo({ stateDir, brokerPort: 0, webPort: 0 });
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
    page = await browser.newPage();
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console: ${m.text()}`);
    });
  });

  after(async () => {
    await browser?.close();
    await demo?.stop();
    rmSync(profile, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("logs in, clicks pi1's LED On, and sees the page and the simulated LED turn on without a reload", async () => {
    await page.goto(demo.webUrl);
    await page.getByLabel("Password").fill(demo.password);
    await page.getByRole("button", { name: "Log in" }).click();

    const pi1 = page.locator('[data-device="pi1"]');
    const led = pi1.locator('.output[data-output="led"]');
    await led.waitFor();
    await pi1.locator('.online[data-online="true"]').waitFor();
    assert.equal(await led.getAttribute("data-state"), "off");
    let navigations = 0;
    page.on("framenavigated", () => navigations++);

    const start = performance.now();
    await led.getByRole("button", { name: /led on$/ }).click();
    await pi1.locator('.output[data-output="led"][data-state="on"]').waitFor({ timeout: 10_000 });
    const ms = performance.now() - start;
    assert.equal(await led.locator(".state").textContent(), "on");
    const ledFile = demo.files.devices.pi1?.outputs.led as string;
    await eventually(() => readFileSync(ledFile, "utf8").trim() === "on", "pi1's simulated LED file on");
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

  it("shows a press of pi1's simulated button live", async () => {
    const buttonFile = demo.files.devices.pi1?.inputs.button as string;
    writeFileSync(buttonFile, "pressed\n");
    await page
      .locator('[data-device="pi1"] .input[data-input="button"]', { hasText: "pressed" })
      .waitFor({ timeout: 10_000 });
    assert.deepEqual(problems, []);
  });

  it("shows a board going offline, and says so when it does not confirm a command", async () => {
    const bbb1 = page.locator('[data-device="bbb1"]');
    const service = demo.devices.find((d) => d.deviceId === "bbb1");
    assert.ok(service);
    await service.stop();
    await bbb1.locator('.online[data-online="false"]').waitFor({ timeout: 10_000 });
    await bbb1.getByRole("button", { name: /led on$/ }).click();
    await page.locator("#message", { hasText: "did not confirm" }).waitFor({ timeout: 15_000 });
    assert.equal(await bbb1.locator('.output[data-output="led"]').getAttribute("data-state"), "off");
    await page.screenshot({ path: join(ARTIFACTS, "e2e-demo-offline.png"), fullPage: true });
    assert.deepEqual(problems, []);
  });
});
