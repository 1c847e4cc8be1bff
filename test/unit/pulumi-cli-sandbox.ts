// A sandbox for running documented shell commands as a user would: HOME, a bin directory of stand-ins first on PATH
// (the pulumi CLI's config commands by pulumi-config-double.cjs; curl, ssh-copy-id, ssh, ssh-keyscan and npm, which
// need the network or a board), and the double's state file. Used by readme-deploy.test.ts and
// config-fix-commands.test.ts.
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

/** The address the curl stand-in answers for checkip.amazonaws.com. */
export const CHECKIP = "203.0.113.5";

export interface DoubleState {
  config: Record<string, unknown>;
  secure: string[];
  commands?: string[][];
}

/** A sandbox: HOME, a bin directory of stand-ins first on PATH, and the pulumi double's state file. */
export function sandbox(initial: DoubleState) {
  const dir = mkdtempSync(path.join(tmpdir(), "pulumi-cli-sandbox-"));
  const home = path.join(dir, "home");
  const bin = path.join(dir, "bin");
  mkdirSync(home);
  mkdirSync(bin);
  const log = path.join(dir, "calls.log");
  writeFileSync(log, "");
  const state = path.join(dir, "state.json");
  writeFileSync(state, JSON.stringify(initial));
  const tool = (name: string, body: string) => {
    writeFileSync(path.join(bin, name), `#!/bin/sh\necho "${name} $*" >> "${log}"\n${body}\n`);
    chmodSync(path.join(bin, name), 0o755);
  };
  tool("pulumi", `exec "${process.execPath}" "${path.join(__dirname, "pulumi-config-double.cjs")}" "$@"`);
  tool("curl", `echo ${CHECKIP}`);
  // ssh-copy-id -i KEY.pub user@host: the public half must exist (it goes into the board's authorized_keys).
  tool("ssh-copy-id", 'while [ $# -gt 0 ]; do [ "$1" = -i ] && { test -f "$2" || exit 1; }; shift; done');
  tool("ssh", "exit 0");
  // ssh-keyscan -t ed25519 HOST: one "host keytype base64" line, from a real key made for the test.
  execFileSync("ssh-keygen", ["-t", "ed25519", "-N", "", "-q", "-f", path.join(dir, "hostkey")]);
  const hostKey = readFileSync(path.join(dir, "hostkey.pub"), "utf8").split(" ").slice(0, 2).join(" ");
  tool("ssh-keyscan", `echo "# $3:22 SSH-2.0-OpenSSH_10.0" >&2; echo "$3 ${hostKey}"`);
  tool("npm", "exit 0");
  // sh by default; a shell and its options (e.g. bash -O failglob, which refuses an unmatched glob as zsh does).
  const run = (script: string, shell: string[] = ["/bin/sh"]) =>
    spawnSync(shell[0] as string, [...shell.slice(1), "-e", "-c", script], {
      encoding: "utf8",
      env: { PATH: `${bin}:/usr/bin:/bin`, HOME: home, PULUMI_DOUBLE_STATE: state },
    });
  return {
    dir,
    home,
    run,
    calls: () => readFileSync(log, "utf8"),
    state: () => JSON.parse(readFileSync(state, "utf8")) as DoubleState,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
