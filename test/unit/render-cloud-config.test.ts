import assert from "node:assert/strict";
import { test } from "node:test";
import { parse } from "yaml";
import {
  renderCloudConfig,
  SERVER_PACKAGES,
  SSHD_DROP_IN_PATH,
  USER_DATA_LIMIT_BYTES,
} from "../../infra/render/cloud-config";

interface WriteFile {
  path: string;
  content: string;
  permissions: string;
}

const render = (extra: Partial<Parameters<typeof renderCloudConfig>[0]> = {}) =>
  renderCloudConfig({ source: 'stack "dev"', hostname: "diy-dev", ...extra });
const doc = (text: string) =>
  parse(text) as Record<string, unknown> & { write_files: WriteFile[]; packages: string[]; runcmd: string[] };
const fileAt = (text: string, path: string): string => {
  const f = doc(text).write_files.find((w) => w.path === path);
  assert.ok(f, `no write_files entry for ${path}`);
  return f.content;
};

test("user data starts with #cloud-config and a header naming the renderer and stack", () => {
  const [first, second, third] = render().split("\n");
  assert.equal(first, "#cloud-config");
  assert.match(second ?? "", /infra\/render\/cloud-config\.ts/);
  assert.equal(third, '# Source: stack "dev"');
});

test("user data uses only cloud-init module keys spelt right (schema check cannot catch typos)", () => {
  const keys = Object.keys(doc(render()));
  const known = [
    "hostname",
    "manage_etc_hosts",
    "ssh_pwauth",
    "disable_root",
    "apt",
    "package_update",
    "package_upgrade",
    "packages",
    "write_files",
    "runcmd",
  ];
  assert.deepEqual(
    keys.filter((k) => !known.includes(k)),
    [],
  );
  assert.equal(doc(render()).hostname, "diy-dev");
  assert.equal(doc(render()).manage_etc_hosts, true);
  assert.equal(doc(render()).ssh_pwauth, false);
});

test("user data installs the server packages including the SASL modules and fail2ban's journal reader", () => {
  const pkgs = doc(render()).packages;
  for (const p of [
    "mosquitto",
    "nginx",
    "fail2ban",
    "postfix",
    "libsasl2-modules",
    "nodejs",
    "unattended-upgrades",
    "python3-systemd",
  ]) {
    assert.ok(pkgs.includes(p), `missing package ${p}`);
  }
  assert.deepEqual(pkgs, [...SERVER_PACKAGES]);
});

test("user data answers postfix's debconf question under apt:, where cloud-init reads it", () => {
  const apt = doc(render()).apt as { debconf_selections?: Record<string, string> } | undefined;
  const selections = apt?.debconf_selections?.postfix ?? "";
  assert.match(selections, /^postfix postfix\/main_mailer_type select No configuration$/m);
  assert.match(selections, /^postfix postfix\/mailname string diy-dev$/m);
  assert.equal(doc(render()).debconf_selections, undefined, "a top-level debconf_selections is ignored by cloud-init");
});

test("user data turns off SSH passwords, keyboard-interactive and root login in an sshd drop-in read first", () => {
  const sshd = fileAt(render(), SSHD_DROP_IN_PATH);
  for (const d of ["PasswordAuthentication no", "KbdInteractiveAuthentication no", "PermitRootLogin no"]) {
    assert.match(sshd, new RegExp(`^${d}$`, "m"));
  }
  assert.ok(
    SSHD_DROP_IN_PATH < "/etc/ssh/sshd_config.d/50-cloud-init.conf",
    "must sort before the image's own drop-in",
  );
  assert.ok(doc(render()).runcmd.includes("systemctl try-reload-or-restart ssh.service"));
});

test("user data gives fail2ban's sshd jail the systemd backend and mosquitto a LimitNOFILE drop-in", () => {
  const text = render({ mosquittoLimitNofile: 100000 });
  const jail = fileAt(text, "/etc/fail2ban/jail.local");
  assert.match(jail, /\[sshd\]\nenabled = true\nbackend = systemd\n/);
  assert.match(
    fileAt(text, "/etc/systemd/system/mosquitto.service.d/limits.conf"),
    /^\[Service\]\nLimitNOFILE=100000$/m,
  );
});

test("user data carries no secret and stays well under EC2's 16 KB", () => {
  const text = render({
    fail2ban: { mail: { destemail: "ops@example.com", sender: "iot@example.com" }, ignoreIps: ["198.51.100.0/24"] },
  });
  assert.doesNotMatch(text, /PRIVATE KEY|sasl_passwd|secrets\.env|DIY_WEB_PASSWORD|DIY_SESSION_SECRET/);
  assert.ok(Buffer.byteLength(text) < USER_DATA_LIMIT_BYTES / 2, `${Buffer.byteLength(text)} bytes`);
});

test("user data refuses a hostname that is not one DNS label", () => {
  assert.throws(() => render({ hostname: "Bad_Host" }), /hostname/);
  assert.throws(() => render({ hostname: "a\nruncmd: [reboot]" }), /hostname/);
});
