import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  CERTBOT_PATHS,
  renderCertbotDeployHook,
  renderCertbotScript,
  renderCertbotService,
  renderCertbotTimer,
} from "../../infra/render/certbot";
import { DDNS_PATHS, renderDdnsScript, renderDdnsService, renderDdnsTimer } from "../../infra/render/ddns";
import { renderOpsPush } from "../../infra/render/ops";

const base = { alertRateLimitMinutes: 60, certExpiryWarnDays: 21 };

test("certbot issues through the nginx webroot, once, with a deploy hook that installs for nginx and reloads", () => {
  const s = renderCertbotScript({ domain: "iot.example.com", email: "me@example.com" });
  assert.match(s, /^# Rendered by diy-device-cloud infra\/render\/certbot\.ts/m);
  assert.match(s, /certbot certonly --webroot -w "\$WEBROOT" -d "\$DOMAIN"/);
  assert.match(s, /--non-interactive --keep-until-expiring/);
  assert.match(s, new RegExp(`--deploy-hook ${CERTBOT_PATHS.deployHook}`));
  assert.match(s, /^WEBROOT=\/var\/www\/letsencrypt$/m);
  assert.doesNotMatch(s, /--test-cert/);
  assert.match(
    renderCertbotScript({ domain: "iot.example.com", email: "me@example.com", staging: true }),
    /--test-cert/,
  );
  const hook = renderCertbotDeployHook({ domain: "iot.example.com", email: "me@example.com" });
  assert.match(hook, /RENEWED_LINEAGE:-\/etc\/letsencrypt\/live\/iot\.example\.com/);
  assert.match(hook, /install -m 0600 -o root -g root "\$live\/privkey\.pem" "\$key"/);
  assert.match(hook, /systemctl reload nginx/);
  assert.match(renderCertbotService(), /^ExecStart=\/usr\/local\/sbin\/diy-certbot$/m);
  assert.match(renderCertbotTimer(), /^OnUnitActiveSec=6h$/m);
  assert.throws(() => renderCertbotScript({ domain: "iot.example.com; rm -rf /", email: "me@example.com" }), /domain/);
  assert.throws(() => renderCertbotScript({ domain: "iot.example.com", email: "$(id)@x.com" }), /letsEncryptEmail/);
});

test("the deploy hook installs a renewed certificate for nginx and reloads only when it changed", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "ops-certbot-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const live = join(dir, "live");
  mkdirSync(live);
  writeFileSync(join(live, "fullchain.pem"), "CHAIN\n");
  writeFileSync(join(live, "privkey.pem"), "KEY\n");
  const bin = join(dir, "bin");
  mkdirSync(bin);
  for (const cmd of ["nginx", "systemctl"]) {
    writeFileSync(join(bin, cmd), `#!/bin/sh\necho "${cmd} $*" >> "${dir}/calls"\n`);
    chmodSync(join(bin, cmd), 0o755);
  }
  const hook = renderCertbotDeployHook({ domain: "iot.example.com", email: "me@example.com" })
    .replace(CERTBOT_PATHS.nginxCert, join(dir, "server.pem"))
    .replace(CERTBOT_PATHS.nginxKey, join(dir, "server.key"));
  writeFileSync(join(dir, "hook"), hook);
  chmodSync(join(dir, "hook"), 0o755);
  execFileSync("shellcheck", ["-s", "sh", join(dir, "hook")]);
  const run = () =>
    spawnSync(join(dir, "hook"), [], {
      env: { PATH: `${bin}:/usr/bin:/bin`, RENEWED_LINEAGE: live },
      encoding: "utf8",
    });
  assert.equal(run().status, 0);
  assert.equal(readFileSync(join(dir, "server.pem"), "utf8"), "CHAIN\n");
  assert.equal(readFileSync(join(dir, "server.key"), "utf8"), "KEY\n");
  assert.deepEqual(readFileSync(join(dir, "calls"), "utf8").trim().split("\n"), [
    "nginx -t -q",
    "systemctl reload nginx",
  ]);
  assert.equal(run().status, 0);
  assert.equal(readFileSync(join(dir, "calls"), "utf8").trim().split("\n").length, 2, "unchanged: no second reload");
});

test("the ddns update sends the URL to curl on stdin, never as an argument", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "ops-ddns-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "curl"), `#!/bin/sh\nprintf '%s\\n' "$@" > "${dir}/argv"\ncat > "${dir}/stdin"\n`);
  chmodSync(join(dir, "curl"), 0o755);
  writeFileSync(join(dir, "update"), renderDdnsScript());
  chmodSync(join(dir, "update"), 0o755);
  execFileSync("shellcheck", ["-s", "sh", join(dir, "update")]);
  const url = 'https://freedns.example/update?token=s3cr3t&x="q"';
  const r = spawnSync(join(dir, "update"), [], {
    env: { PATH: `${dir}:/usr/bin:/bin`, DDNS_URL: url },
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(readFileSync(join(dir, "argv"), "utf8"), /s3cr3t/);
  assert.equal(
    readFileSync(join(dir, "stdin"), "utf8"),
    'url = "https://freedns.example/update?token=s3cr3t&x=\\"q\\""\n',
  );
  const unset = spawnSync(join(dir, "update"), [], { env: { PATH: `${dir}:/usr/bin:/bin` }, encoding: "utf8" });
  assert.notEqual(unset.status, 0);
  assert.match(unset.stderr, /DDNS_URL is not set/);
});

test("the ddns unit reads the root-only environment file and runs unprivileged; the timer is hourly", () => {
  const svc = renderDdnsService();
  assert.match(svc, new RegExp(`^EnvironmentFile=${DDNS_PATHS.env}$`, "m"));
  assert.match(svc, /^DynamicUser=yes$/m);
  assert.doesNotMatch(svc, /https?:/);
  assert.match(renderDdnsTimer(), /^OnUnitActiveSec=1h$/m);
});

test("ops push: alerts always; certbot only with a domain; the ddns timer only with its URL, kept secret 0600", () => {
  const plain = renderOpsPush(base);
  const paths = (p: ReturnType<typeof renderOpsPush>) => p.files.map((f) => f.path);
  assert.ok(paths(plain).includes("/usr/local/sbin/diy-alert"));
  assert.ok(paths(plain).includes("/etc/fail2ban/action.d/sendmail.local"));
  assert.ok(paths(plain).includes("/etc/systemd/system/diy-cert-check.timer"));
  assert.ok(!paths(plain).some((p) => /certbot|ddns/.test(p)));
  assert.ok(plain.after.includes("systemctl enable --now --quiet diy-cert-check.timer"));
  assert.ok(plain.after.some((c) => /disable --now --quiet diy-certbot\.timer/.test(c)));
  assert.ok(plain.after.some((c) => /disable --now --quiet diy-ddns\.timer/.test(c)));

  const le = renderOpsPush({ ...base, letsEncrypt: { domain: "iot.example.com", email: "me@example.com" } });
  assert.ok(paths(le).includes(CERTBOT_PATHS.script));
  assert.ok(paths(le).includes(CERTBOT_PATHS.timer));
  assert.ok(le.after.includes(CERTBOT_PATHS.script));
  const check = le.files.find((f) => f.path === "/usr/local/sbin/diy-cert-check");
  assert.match(check?.content ?? "", /\/etc\/letsencrypt\/live\/iot\.example\.com\/fullchain\.pem/);

  const url = "https://freedns.example/update?token=s3cr3t";
  const dd = renderOpsPush({ ...base, ddnsUpdateUrl: url });
  const env = dd.files.find((f) => f.path === DDNS_PATHS.env);
  assert.ok(env);
  assert.equal(env.mode, "0600");
  assert.equal(env.owner, "root");
  assert.equal(env.secret, true);
  assert.match(env.content, /^DDNS_URL="https:\/\/freedns\.example\/update\?token=s3cr3t"$/m);
  for (const f of dd.files.filter((f) => f.path !== DDNS_PATHS.env)) assert.doesNotMatch(f.content, /s3cr3t/, f.path);
  assert.ok(!dd.after.some((c) => c.includes("s3cr3t")));
  assert.ok(dd.after.includes("systemctl enable --now --quiet diy-ddns.timer"));
  assert.throws(() => renderOpsPush({ ...base, ddnsUpdateUrl: "ftp://x" }), /ddnsUpdateUrl/);
});
