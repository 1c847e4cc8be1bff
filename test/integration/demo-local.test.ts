import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { type DemoFiles, type RunningDemo, startDemo } from "../../scripts/demo";
import { tempDir } from "../support/temp-dir";
import { waitUntil } from "../support/wait";

// `npm run demo` end to end without a browser: demo.json, the login, a POST that toggles the
// simulated LED file, a button press seen by the web app, rerun reuse and shutdown.

const repo = join(__dirname, "..", "..");

async function login(webUrl: string, password: string): Promise<{ cookie: string; csrf: string }> {
  const res = await fetch(`${webUrl}/api/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ password }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  const cookie = (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  const body = (await res.json()) as { csrfToken: string };
  return { cookie, csrf: body.csrfToken };
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

describe("npm run demo", () => {
  const tmp = tempDir("demo", { daemonsMayEnter: true });
  const stateDir = join(tmp.dir, "state");
  let demo: RunningDemo | undefined;
  after(async () => {
    await demo?.stop();
    tmp.cleanup();
  });

  it("writes demo.json with the web URL, broker URL and certificate paths, and keeps secrets 0600", async () => {
    demo = await startDemo({ stateDir, brokerPort: 0, webPort: 0 });
    const files = JSON.parse(readFileSync(join(stateDir, "demo.json"), "utf8")) as DemoFiles;
    assert.equal(files.webUrl, demo.webUrl);
    assert.match(files.webUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(files.brokerUrl, /^mqtts:\/\/127\.0\.0\.1:\d+$/);
    assert.match(readFileSync(files.ca, "utf8"), /BEGIN CERTIFICATE/);
    assert.deepEqual(Object.keys(files.clients).sort(), ["bbb1", "pi1", "web"]);
    for (const c of Object.values(files.clients)) {
      assert.match(readFileSync(c.cert, "utf8"), /BEGIN CERTIFICATE/);
      assert.equal(statSync(c.key).mode & 0o777, 0o600, c.key);
    }
    assert.equal(statSync(files.passwordFile).mode & 0o777, 0o600);
    assert.equal(readFileSync(files.passwordFile, "utf8").trim(), demo.password);
    assert.equal(demo.passwordCreated, true);
    assert.deepEqual(Object.keys(files.devices.pi1?.outputs ?? {}), ["led"]);
    assert.deepEqual(Object.keys(files.devices.pi1?.inputs ?? {}), ["button"]);
    assert.deepEqual(Object.keys(files.devices.bbb1?.outputs ?? {}), ["led"]);
  });

  it("toggles the simulated LED of pi1 on a logged-in POST and shows it in the device list", async () => {
    assert.ok(demo);
    const files = demo.files;
    const led = files.devices.pi1?.outputs.led ?? "";
    assert.equal(readFileSync(led, "utf8"), "off\n");
    const { cookie, csrf } = await login(demo.webUrl, demo.password);
    const res = await fetch(`${demo.webUrl}/api/devices/pi1/outputs/led`, {
      method: "POST",
      headers: { "content-type": "application/json", cookie, "x-csrf-token": csrf },
      body: JSON.stringify({ value: "toggle" }),
    });
    assert.equal(res.status, 202, await res.clone().text());
    await waitUntil(() => readFileSync(led, "utf8") === "on\n", "the simulated LED file turning on");
    assert.equal(readFileSync(files.devices.bbb1?.outputs.led ?? "", "utf8"), "off\n", "bbb1 untouched");
    const list = async () =>
      (await (await fetch(`${demo?.webUrl}/api/devices`, { headers: { cookie } })).json()) as {
        devices: { id: string; online: boolean; outputs: { name: string; value: string }[] }[];
      };
    let seen: Awaited<ReturnType<typeof list>> | undefined;
    // bbb1 connects on its own schedule: wait for it as for pi1 (asserting it at once raced under load).
    const deadline = Date.now() + 30_000;
    for (;;) {
      seen = await list();
      const pi1 = seen.devices.find((d) => d.id === "pi1");
      const bbb1 = seen.devices.find((d) => d.id === "bbb1");
      if (pi1?.online && pi1.outputs[0]?.value === "on" && bbb1?.online) break;
      if (Date.now() > deadline)
        assert.fail(`device list never showed pi1 online with led on and bbb1 online: ${JSON.stringify(seen)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(seen.devices.find((d) => d.id === "bbb1")?.outputs[0]?.value, "off", "bbb1 untouched");
  });

  it("refuses the API without a login", async () => {
    assert.ok(demo);
    const res = await fetch(`${demo.webUrl}/api/devices/pi1/outputs/led`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ value: "on" }),
    });
    assert.equal(res.status, 401);
  });

  it("passes a press of the simulated button through to the web app", async () => {
    assert.ok(demo);
    const { cookie } = await login(demo.webUrl, demo.password);
    writeFileSync(demo.files.devices.pi1?.inputs.button ?? "", "pressed\n");
    const deadline = Date.now() + 10_000;
    for (;;) {
      const body = (await (await fetch(`${demo.webUrl}/api/devices`, { headers: { cookie } })).json()) as {
        devices: { id: string; inputs: { name: string; value: string | null }[] }[];
      };
      if (body.devices.find((d) => d.id === "pi1")?.inputs[0]?.value === "pressed") break;
      if (Date.now() > deadline) assert.fail(`button press not seen: ${JSON.stringify(body)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  it("reuses the CA, certificates and password on a rerun of the same state dir", async () => {
    assert.ok(demo);
    const ca = readFileSync(demo.files.ca, "utf8");
    const password = demo.password;
    const brokerPort = demo.broker.port;
    await demo.stop();
    assert.equal(await portOpen(brokerPort), false, "the broker is stopped");
    demo = await startDemo({ stateDir, brokerPort: 0, webPort: 0 });
    assert.equal(readFileSync(demo.files.ca, "utf8"), ca);
    assert.equal(demo.password, password);
    assert.equal(demo.passwordCreated, false);
    // Safe state on start: the LED left on by the previous run is off again.
    assert.equal(readFileSync(demo.files.devices.pi1?.outputs.led ?? "", "utf8"), "off\n");
  });
});

describe("npm run demo as a command", () => {
  it("says exactly what to install when mosquitto is missing", async () => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "scripts/demo.ts", "--state-dir", "/nonexistent-never-created"],
      {
        cwd: repo,
        env: { ...process.env, PATH: "/nonexistent" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((r) => child.once("exit", r));
    assert.equal(code, 1, out);
    assert.match(out, /sudo apt-get install mosquitto \(or bash scripts\/setup\.sh demo\)/);
    assert.equal(existsSync("/nonexistent-never-created"), false);
  });

  it("prints the URL and login, and stops everything it started on SIGTERM", async (t) => {
    const tmp = tempDir("demo-cli", { daemonsMayEnter: true });
    t.after(() => tmp.cleanup());
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "scripts/demo.ts", "--state-dir", tmp.dir, "--web-port", "0", "--broker-port", "0"],
      {
        cwd: repo,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    t.after(() => {
      child.kill("SIGKILL");
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    await waitUntil(() => /Ctrl-C stops everything/.test(out), `the demo banner\n${out}`, { timeoutMs: 30_000 });
    const files = JSON.parse(readFileSync(join(tmp.dir, "demo.json"), "utf8")) as DemoFiles;
    assert.match(out, new RegExp(`Open\\s+${files.webUrl.replace(/[.]/g, "\\.")}`));
    const password = readFileSync(files.passwordFile, "utf8").trim();
    assert.match(out, new RegExp(`Password\\s+${password}`));
    const webPort = Number(new URL(files.webUrl).port);
    const brokerPort = Number(new URL(files.brokerUrl.replace("mqtts", "http")).port);
    assert.equal(await portOpen(webPort), true);
    assert.equal(await portOpen(brokerPort), true);
    child.kill("SIGTERM");
    const code = await new Promise<number | null>((r) => child.once("exit", r));
    assert.equal(code, 0, out);
    assert.equal(await portOpen(webPort), false, "web app stopped");
    assert.equal(await portOpen(brokerPort), false, "broker stopped");
  });
});
