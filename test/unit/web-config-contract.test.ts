// The hand-off from the program to the web app: /etc/diy-web/config.json is rendered through the web app's own
// schema (apps/web/config.ts, alerts included), so a value the app would refuse fails the render at preview
// instead of the app's start on the server; nginx proxies to the address that config makes the app listen on.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseWebConfig, type WebConfigInput } from "../../apps/web/config";
import type { Settings } from "../../infra/config";
import { renderServerFiles, type ServerFilesInput } from "../../infra/render/server-files";
import { renderWebConfig, webConfig } from "../../infra/render/web-config";
import { serverWebConfig } from "../../infra/server-input";
import { aclModel } from "../../protocol";
import { settingsFrom } from "../support/settings";

const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
const RAW = {
  adminCidrs: '["198.51.100.7/32"]',
  deviceSshPrivateKey: KEY,
  devices: JSON.stringify([{ id: "pi1", host: "192.0.2.21", board: "raspberrypi", outputs: [{ name: "led" }] }]),
  alertEmail: "ops@example.com",
  smtpHost: "smtp.example.com",
};
const settings = (): Settings => settingsFrom(RAW);

const BROKER = { url: "mqtts://localhost:8883", ca: "/etc/diy-web/ca.pem", cert: "/etc/diy-web/web.pem", key: "/k" };
const PEM = (label: string) => `-----BEGIN ${label}-----\nAAAA\n-----END ${label}-----\n`;
const serverInput = (config: WebConfigInput): ServerFilesInput => ({
  hostname: "iot",
  pki: {
    caCertPem: PEM("CERTIFICATE"),
    serverCertPem: PEM("CERTIFICATE"),
    serverKeyPem: PEM("PRIVATE KEY"),
    webCertPem: PEM("CERTIFICATE"),
    webKeyPem: PEM("PRIVATE KEY"),
  },
  acl: aclModel({ devices: [] }),
  nginx: { serverName: "_" },
  postfix: {},
  web: { bundle: "//\n", config, password: "p", sessionSecret: "s".repeat(40) },
});
const fileOf = (files: ReturnType<typeof renderServerFiles>, path: string) =>
  files.find((f) => f.path === path)?.content ?? assert.fail(`no ${path}`);

describe("web config contract", () => {
  test("the web app's schema checks alerts: a bad or unknown alert key is refused, naming it", () => {
    const bad = (alerts: unknown) => () => parseWebConfig({ broker: BROKER, alerts });
    assert.throws(bad({ offlineAfterMinutes: 0, rateLimitMinutes: 60 }), /alerts\.offlineAfterMinutes:/);
    assert.throws(bad({ offlineAfterMinutes: 10, rateLimitMinutes: 60, email: "a b" }), /alerts\.email:/);
    assert.throws(
      bad({ offlineAfterMinutes: 10, rateLimitMinutes: 60, offlineAlertMinutes: 5 }),
      /alerts\.offlineAlertMinutes: unknown key/,
    );
    const ok = parseWebConfig({ broker: BROKER, alerts: { offlineAfterMinutes: 10, rateLimitMinutes: 60 } });
    assert.deepEqual(ok.alerts, { offlineAfterMinutes: 10, rateLimitMinutes: 60 });
  });

  test("the stack's settings become a config the web app accepts, alerts and all", () => {
    const s = settings();
    const cfg = webConfig(serverWebConfig(s, "https://203.0.113.9"));
    assert.deepEqual(cfg.alerts, {
      offlineAfterMinutes: s.offlineAlertMinutes,
      rateLimitMinutes: s.alertRateLimitMinutes,
      email: "ops@example.com",
    });
    assert.equal(cfg.publicOrigin, "https://203.0.113.9");
    assert.deepEqual(cfg.listen, { socket: "/run/diy-web/web.sock", group: "www-data" });
    // Without the origin (unknown at preview) the rest is checked all the same.
    assert.equal(webConfig(serverWebConfig(s)).publicOrigin, undefined);
  });

  test("a value the web app would refuse fails the program's render with the key, not the app's start", () => {
    const s = { ...settings(), offlineAlertMinutes: 0 };
    assert.throws(() => webConfig(serverWebConfig(s)), /web app's config.*\n.*alerts\.offlineAfterMinutes:/);
    const config = serverWebConfig(s, "https://203.0.113.9");
    assert.throws(() => renderWebConfig(config), /alerts\.offlineAfterMinutes:/);
    assert.throws(() => renderServerFiles(serverInput(config)), /alerts\.offlineAfterMinutes:/);
  });

  test("config.json holds what the stack set, as written, and the web app reads it back", () => {
    const config = serverWebConfig(settings(), "https://203.0.113.9");
    const text = fileOf(renderServerFiles(serverInput(config)), "/etc/diy-web/config.json");
    assert.equal(text, `${JSON.stringify(config, null, 2)}\n`);
    assert.deepEqual(parseWebConfig(JSON.parse(text)), webConfig(config));
  });

  test("nginx proxies to the address the web app's config makes it listen on, one value for both ends", () => {
    const site = (listen?: WebConfigInput["listen"]) =>
      fileOf(
        renderServerFiles(serverInput({ broker: BROKER, ...(listen ? { listen } : {}) })),
        "/etc/nginx/sites-available/diy",
      );
    const proxies = (text: string) => [...new Set([...text.matchAll(/proxy_pass (\S+);/g)].map((m) => m[1]))];
    assert.deepEqual(proxies(site({ host: "127.0.0.1", port: 3100 })), ["http://127.0.0.1:3100"]);
    assert.deepEqual(proxies(site({ socket: "/run/app/web.sock", group: "www-data" })), [
      "http://unix:/run/app/web.sock:",
    ]);
    // Port 0 (any free port) suits a test's app, never an nginx upstream.
    assert.throws(() => site({ host: "127.0.0.1", port: 0 }), /upstream\.port must be a TCP port/);
  });
});
