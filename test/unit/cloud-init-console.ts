// Console output as an EC2 instance's cloud-init writes it: real host keys made with ssh-keygen, printed by the
// helper that cc_keys_to_console runs (/usr/lib/cloud-init/write-ssh-key-fingerprints of Debian's cloud-init
// package, identical in upstream 22.4, 24.1 and 25.1), amid serial-console noise, and base64 as GetConsoleOutput
// returns it (EC2 API Reference, GetConsoleOutputResult.Output: "The console output, base64-encoded").
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { after } from "node:test";

const HELPER = "/usr/lib/cloud-init/write-ssh-key-fingerprints";
const work = mkdtempSync(path.join(tmpdir(), "cloud-init-console-"));
after(() => rmSync(work, { recursive: true, force: true }));

export interface HostKeys {
  dir: string;
  /** "type base64" of each .pub, as the pin should read. */
  pub: Record<"ed25519" | "ecdsa" | "rsa", string>;
  /** `ssh-keygen -l` SHA256 fingerprint of each. */
  fp: Record<"ed25519" | "ecdsa" | "rsa", string>;
}

let counter = 0;
/** A fresh /etc/ssh look-alike with the three key types cloud-init generates by default (ssh_genkeytypes). */
export function makeHostKeys(): HostKeys {
  const dir = path.join(work, `ssh${counter++}`);
  mkdirSync(dir, { recursive: true });
  const pub = {} as HostKeys["pub"];
  const fp = {} as HostKeys["fp"];
  for (const t of ["ed25519", "ecdsa", "rsa"] as const) {
    const file = path.join(dir, `ssh_host_${t}_key`);
    const r = spawnSync("ssh-keygen", ["-q", "-t", t, "-N", "", "-C", "root@ip-172-31-5-6", "-f", file]);
    assert.equal(r.status, 0, `ssh-keygen (openssh-client, scripts/setup.sh test) failed: ${r.stderr}`);
    pub[t] = readFileSync(`${file}.pub`, "utf8").split(" ").slice(0, 2).join(" ");
    fp[t] = spawnSync("ssh-keygen", ["-l", "-f", `${file}.pub`], { encoding: "utf8" }).stdout.split(" ")[1] ?? "";
  }
  return { dir, pub, fp };
}

/**
 * What cc_keys_to_console writes to the console: the helper's output (`exec 2>&1`, so logger's copies come first),
 * stripped, plus a newline (log_util.multi_log). Two changes to run it here, both checked: the key directory, and
 * logger's socket errors off (this machine has no /dev/log; on the instance journald provides it, and logger -s
 * then prints the same "<14>... cloud-init: ..." lines it prints here).
 */
export function helperOutput(keys: HostKeys, keyBlacklist = ""): string {
  assert.ok(existsSync(HELPER), `${HELPER} missing: install Debian's cloud-init (scripts/setup.sh test)`);
  const script = readFileSync(HELPER, "utf8");
  assert.ok(script.includes("/etc/ssh/ssh_host_*key.pub") && script.includes('logger_opts="-s"'), "helper changed");
  const patched = script
    .replaceAll("/etc/ssh/", `${keys.dir}/`)
    .replace('logger_opts="-s"', 'logger_opts="-s --socket-errors=off"');
  const r = spawnSync("sh", ["-c", patched, "write-ssh-key-fingerprints", "", keyBlacklist], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return `${r.stdout.trim()}\n`;
}

// Serial console noise around cloud-init's final stage (ttyS0 writes CRLF).
export const BOOT = [
  "[    0.000000] Linux version 6.12.48+deb13-cloud-amd64 (debian-kernel@lists.debian.org)",
  "[  OK  ] Started ssh.service - OpenBSD Secure Shell server.",
  "[   41.203315] cloud-init[689]: Cloud-init v. 25.1.4 running 'modules:final' at Sun, 29 Nov 2026 21:19:40 +0000.",
];
export const AFTER = [
  "[   41.688204] cloud-init[689]: Cloud-init v. 25.1.4 finished at Sun, 29 Nov 2026 21:19:42 +0000. Up 41.68 seconds",
  "",
  "Debian GNU/Linux 13 diy-dev ttyS0",
  "",
  "diy-dev login: ",
];
export const consoleOf = (...parts: string[]) => parts.join("\n").replaceAll("\n", "\r\n");
export const api = (text: string) => Buffer.from(text, "utf8").toString("base64");
