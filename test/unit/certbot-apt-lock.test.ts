// certbot's first install runs while another apt may hold the dpkg lock (cloud-init's packages on first boot, then
// apt-daily/unattended-upgrades). The install lines of the rendered script run here against an apt-get double that
// holds apt's documented rule: with the lock taken, apt-get fails at once ("Could not get lock", exit 100) unless
// DPkg::Lock::Timeout gives it seconds to wait (apt-get(8); the option defaults to 0).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { renderCertbotScript } from "../../infra/render/certbot";

/** apt-get with the lock held by another process: waits (here: succeeds) only when given a lock timeout. */
const APT_GET_WITH_LOCK_HELD = `#!/bin/sh
echo "apt-get $*" >> "$APT_LOG"
timeout=0
while [ $# -gt 0 ]; do
  case "$1" in
    -o) case "$2" in DPkg::Lock::Timeout=*|Dpkg::Lock::Timeout=*) timeout="\${2#*=}";; esac; shift 2;;
    *) shift;;
  esac
done
if [ "$timeout" -gt 0 ] 2>/dev/null; then
  echo "waited for the lock (up to $timeout s)" >> "$APT_LOG"
  exit 0
fi
echo "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 1234 (apt-get)" >&2
exit 100
`;

/** The rendered lines that install certbot when it is missing (the `if ! command -v certbot` block). */
function installBlock(script: string): string {
  const lines = script.split("\n");
  const start = lines.findIndex((l) => l.startsWith("if ! command -v certbot"));
  const end = lines.findIndex((l, i) => i > start && l === "fi");
  assert.ok(start >= 0 && end > start, "the script installs certbot when it is missing");
  return ["set -eu", ...lines.slice(start, end + 1), "echo INSTALLED"].join("\n");
}

test("certbot's install waits for an apt that holds the lock instead of failing the first issuance", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "certbot-apt-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "apt-get"), APT_GET_WITH_LOCK_HELD);
  chmodSync(join(dir, "apt-get"), 0o755);
  const log = join(dir, "apt.log");
  writeFileSync(log, "");
  const script = renderCertbotScript({ domain: "iot.example.com", email: "me@example.com" });
  // PATH without certbot (a fresh server), with the double first.
  const r = spawnSync("/bin/sh", ["-c", installBlock(script)], {
    encoding: "utf8",
    env: { PATH: `${dir}:/usr/bin:/bin`, APT_LOG: log },
  });
  assert.equal(r.status, 0, `install failed: ${r.stderr}`);
  assert.match(r.stdout, /INSTALLED/);
  const calls = readFileSync(log, "utf8");
  assert.match(calls, /^apt-get -o DPkg::Lock::Timeout=(\d+) install -y -q certbot$/m);
  const seconds = Number(/Lock::Timeout=(\d+)/.exec(calls)?.[1]);
  assert.ok(seconds >= 300, `waits ${seconds} s; unattended-upgrades on a micro takes minutes`);
});
