import assert from "node:assert/strict";
import { test } from "node:test";
import { renderPushScript } from "../../infra/render/push-script";

const file = {
  path: "/etc/x/app.conf",
  content: "key=value\n",
  mode: "0640",
  owner: "root",
  group: "app",
  services: ["nginx" as const],
};

test("push script is bash with strict mode and a header, running main with stdin closed", () => {
  const s = renderPushScript({ source: 'stack "dev"', files: [file] });
  const lines = s.split("\n");
  assert.equal(lines[0], "#!/usr/bin/env bash");
  assert.match(lines[1] ?? "", /infra\/render\/push-script\.ts/);
  assert.ok(lines.includes("set -euo pipefail"));
  assert.equal(s.trimEnd().split("\n").at(-1), "main </dev/null");
});

test("push script carries file contents base64-encoded in quoted heredocs with their checksum", () => {
  const s = renderPushScript({ files: [file] });
  assert.match(s, /put \/etc\/x\/app\.conf 0640 root app [0-9a-f]{64} <<'DIY_FILE_0'\na2V5PXZhbHVlCg==\nDIY_FILE_0\n/);
  assert.ok(!s.includes("key=value"));
});

test("push script validates nginx before reloading it and restarts only marked services", () => {
  const s = renderPushScript({ files: [file] });
  assert.ok(s.indexOf("nginx -t") < s.indexOf("systemctl reload-or-restart nginx.service"));
  assert.doesNotMatch(s, /mosquitto\.service|postfix check/);
});

test("push script waits for cloud-init's boot-finished marker", () => {
  assert.match(renderPushScript({ files: [] }), /wait_for_cloud_init 1800/);
  assert.match(renderPushScript({ files: [] }), /\/var\/lib\/cloud\/instance\/boot-finished/);
});

test("push script refuses modes, owners and paths that are not single safe tokens", () => {
  assert.throws(() => renderPushScript({ files: [{ ...file, mode: "755" }] }), /mode/);
  assert.throws(() => renderPushScript({ files: [{ ...file, owner: "root; rm -rf /" }] }), /owner/);
  assert.throws(() => renderPushScript({ files: [{ ...file, path: "etc/relative" }] }), /absolute path/);
  assert.throws(() => renderPushScript({ files: [{ ...file, path: "/etc/$(reboot)" }] }), /file path/);
});
