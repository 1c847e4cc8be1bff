// OpenSSH client calls to a VM: key-only, batch mode, throwaway known_hosts (each VM has fresh host keys).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type RunResult, run } from "./proc";

export interface SshTarget {
  host: string;
  port: number;
  user: string;
  /** Path of the private key. */
  key: string;
}

const commonOpts = [
  "-o",
  "StrictHostKeyChecking=no",
  "-o",
  "UserKnownHostsFile=/dev/null",
  "-o",
  "LogLevel=ERROR",
  "-o",
  // Covers the banner exchange too, which a starved TCG guest can stretch past 15 s.
  "ConnectTimeout=45",
  "-o",
  "ServerAliveInterval=15",
  "-o",
  "ServerAliveCountMax=8",
];

export class Ssh {
  constructor(readonly target: SshTarget) {}

  args(extra: string[] = []): string[] {
    const t = this.target;
    return [
      ...commonOpts,
      "-o",
      "BatchMode=yes",
      "-o",
      "IdentitiesOnly=yes",
      "-i",
      t.key,
      "-p",
      String(t.port),
      ...extra,
      `${t.user}@${t.host}`,
    ];
  }

  /** Runs `command` (a shell command line on the guest) with optional stdin. */
  exec(command: string, opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
    return run("ssh", [...this.args(), command], { input: opts.input, timeoutMs: opts.timeoutMs ?? 120_000 });
  }

  /** Like exec, but throws with stdout/stderr when the command fails. */
  async check(command: string, opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
    const r = await this.exec(command, opts);
    if (r.code !== 0) {
      throw new Error(
        `ssh ${this.target.user}@:${this.target.port} '${command.slice(0, 200)}' exit ${r.code}\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`,
      );
    }
    return r.stdout;
  }
}

/** Tries a login with only the given method; returns ssh's exit code and stderr. */
export function tryLogin(opts: {
  port: number;
  user: string;
  method: "password" | "publickey";
  key?: string;
}): Promise<RunResult> {
  const args = [
    ...commonOpts,
    "-o",
    "BatchMode=yes",
    "-o",
    `PreferredAuthentications=${opts.method}`,
    "-o",
    `PubkeyAuthentication=${opts.method === "publickey" ? "yes" : "no"}`,
    "-o",
    "PasswordAuthentication=yes",
    "-o",
    "KbdInteractiveAuthentication=no",
    "-o",
    "IdentitiesOnly=yes",
    ...(opts.key ? ["-i", opts.key] : []),
    "-p",
    String(opts.port),
    `${opts.user}@127.0.0.1`,
    "true",
  ];
  return run("ssh", args, { timeoutMs: 60_000 });
}

/** A fresh ed25519 key pair in `dir`; returns the private key path and the public key line. */
export async function generateKey(dir: string, name: string): Promise<{ path: string; publicKey: string }> {
  const path = join(dir, name);
  const r = await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path]);
  if (r.code !== 0) throw new Error(`ssh-keygen: ${r.stderr}`);
  return { path, publicKey: readFileSync(`${path}.pub`, "utf8").trim() };
}
