// One QEMU VM of the tier: a qcow2 overlay on the cached base image, a NoCloud seed with the user data,
// user-mode networking with host ports forwarded on 127.0.0.1 only, serial console to a file.
// TCG only (no usable KVM here): boot to SSH takes one to two minutes, cloud-init with packages a few more.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BaseImage } from "./image";
import { freePort } from "../../support/ports";
import { log, type RunResult, run, waitUntilReady } from "./proc";
import { Ssh } from "./ssh";

export interface VmOptions {
  name: string;
  image: BaseImage;
  /** Working directory for the overlay, seed and console log. */
  dir: string;
  /** cloud-config (or any user data cloud-init accepts), exactly as it would be sent to EC2. */
  userData: string;
  /** Public keys the datasource hands to the default user, like an EC2 key pair. */
  publicKeys: string[];
  hostname: string;
  /** Guest TCP ports to forward from 127.0.0.1:<free port>; 22 is always forwarded. */
  forward?: number[];
  /** Private key (path) to log in with, and the login user. */
  sshKey: string;
  sshUser: string;
  memoryMiB?: number;
  cpus?: number;
}

/** The one NIC: virtio-net in PCI slot 2, which udev names ens2; the MAC is QEMU's default, made explicit. */
const NIC_MAC = "52:54:00:12:34:56";
const NIC_NAME = "ens2";

const running = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const killAll = () => {
    for (const p of running) p.kill("SIGKILL");
  };
  process.on("exit", killAll);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(sig, () => {
      killAll();
      process.exit(130);
    });
  }
}

export class Vm {
  readonly name: string;
  readonly ports = new Map<number, number>();
  readonly consoleLog: string;
  ssh!: Ssh;
  private proc: ChildProcess | undefined;
  private exited: string | undefined;
  private stopping = false;

  constructor(private readonly opts: VmOptions) {
    this.name = opts.name;
    this.consoleLog = join(opts.dir, "console.log");
  }

  /** Host port forwarded to a guest port. */
  port(guest: number): number {
    const p = this.ports.get(guest);
    if (p === undefined) throw new Error(`${this.name}: guest port ${guest} is not forwarded`);
    return p;
  }

  /**
   * True when QEMU has exited (crashed, or the guest panicked) without stop(), or when systemd gave up in early
   * boot and froze the guest (it prints "Freezing execution." and never recovers: seen on a starved host when
   * its generators ran past systemd's timeout, "Failed to fork off sandboxing environment ...: Protocol error").
   */
  get crashed(): boolean {
    if (this.exited !== undefined) return !this.stopping;
    return this.consoleTail(40).includes("Freezing execution.");
  }

  async start(): Promise<void> {
    const o = this.opts;
    if (this.proc && this.exited === undefined) await this.stop();
    this.cpuOfEarlierBoots += this.cpuOfThisBoot;
    this.cpuOfThisBoot = 0;
    this.exited = undefined;
    this.stopping = false;
    // A fresh console: the last boot's "Freezing execution." must not read as this boot's (QEMU truncates the
    // file only once it has started, after the first checks may already have looked).
    rmSync(this.consoleLog, { force: true });
    mkdirSync(o.dir, { recursive: true });
    const overlay = join(o.dir, "disk.qcow2");
    const ov = await run("qemu-img", ["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", o.image.disk, overlay]);
    if (ov.code !== 0) throw new Error(`qemu-img create: ${ov.stderr}`);

    // NoCloud seed: an ISO 9660 volume labelled cidata with user-data and meta-data.
    const seedDir = join(o.dir, "seed");
    mkdirSync(seedDir, { recursive: true });
    writeFileSync(join(seedDir, "user-data"), o.userData);
    const metaData = [
      `instance-id: ${o.name}-${Date.now()}`,
      `local-hostname: ${o.hostname}`,
      "public-keys:",
      ...o.publicKeys.map((k) => `  - ${JSON.stringify(k.trim())}`),
      "",
    ].join("\n");
    writeFileSync(join(seedDir, "meta-data"), metaData);
    // The NIC's network config, as EC2's datasource derives it from the instance metadata: DHCPv4 on the
    // interface with this MAC, and DHCPv6 only where the subnet has IPv6 (this one has none). Without it
    // cloud-init falls back to its own guess, which from 24.x on asks for DHCPv6 too (net/__init__.py
    // generate_fallback_config: dhcp6 true): ifupdown then runs `dhclient -6` in the foreground, QEMU's user
    // network has no DHCPv6 server, and networking.service hangs until its 5 min start timeout, holding
    // cloud-init's network stage and SSH behind it (Debian 13: ~440 s to SSH instead of ~140 s).
    const networkConfig = [
      "version: 1",
      "config:",
      "  - type: physical",
      `    name: ${NIC_NAME}`,
      `    mac_address: "${NIC_MAC}"`,
      "    subnets:",
      "      - type: dhcp4",
      "",
    ].join("\n");
    writeFileSync(join(seedDir, "network-config"), networkConfig);
    const seed = join(o.dir, "seed.iso");
    const iso = await run("genisoimage", [
      "-quiet",
      "-output",
      seed,
      "-volid",
      "cidata",
      "-joliet",
      "-rock",
      join(seedDir, "user-data"),
      join(seedDir, "meta-data"),
      join(seedDir, "network-config"),
    ]);
    if (iso.code !== 0) throw new Error(`genisoimage: ${iso.stderr}`);

    // Kept across a restart: others may already have been told these ports.
    for (const g of [22, ...(o.forward ?? [])]) if (!this.ports.has(g)) this.ports.set(g, await freePort());
    const fwd = [...this.ports].map(([g, h]) => `hostfwd=tcp:127.0.0.1:${h}-:${g}`).join(",");

    const args = [
      "-name",
      o.name,
      "-accel",
      "tcg,thread=multi,tb-size=256",
      "-cpu",
      "max",
      "-m",
      String(o.memoryMiB ?? 1024),
      "-smp",
      String(o.cpus ?? 2),
      "-kernel",
      o.image.kernel,
      "-initrd",
      o.image.initrd,
      // No floppy probing (it stalls boot under TCG), no graphics: only the devices listed here.
      "-nodefaults",
      "-vga",
      "none",
      // no_timer_check: on a loaded host the kernel's early timer test under TCG can fail and panic
      // ("IO-APIC + timer doesn't work"); panic=-1 with -no-reboot makes QEMU exit instead of hanging.
      "-append",
      "root=/dev/vda rw console=ttyS0 no_timer_check panic=-1 modprobe.blacklist=floppy,bochs",
      // cache=unsafe: a throwaway disk; guest fsyncs (dpkg does many) need not reach the host disk.
      "-drive",
      `file=${overlay},if=virtio,format=qcow2,discard=unmap,cache=unsafe`,
      "-drive",
      `file=${seed},if=virtio,format=raw,readonly=on`,
      "-netdev",
      `user,id=n0,${fwd}`,
      "-device",
      `virtio-net-pci,netdev=n0,mac=${NIC_MAC}`,
      "-device",
      "virtio-rng-pci",
      "-display",
      "none",
      "-monitor",
      "none",
      "-serial",
      `file:${this.consoleLog}`,
      "-no-reboot",
    ];
    installExitHook();
    const proc = spawn("qemu-system-x86_64", args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    proc.stderr?.setEncoding("utf8").on("data", (c: string) => {
      stderr += c;
    });
    proc.on("exit", (code, signal) => {
      running.delete(proc);
      this.exited = `qemu exited (${signal ?? code}) ${stderr.trim()}`;
      if (!this.stopping) log(this.name, `${this.exited}; console tail:\n${this.consoleTail(15)}`);
    });
    running.add(proc);
    this.proc = proc;
    this.ssh = new Ssh({ host: "127.0.0.1", port: this.port(22), user: o.sshUser, key: o.sshKey });
    log(
      this.name,
      `qemu pid ${proc.pid}, ssh 127.0.0.1:${this.port(22)}, ports ${fwd.replace(/hostfwd=tcp:127\.0\.0\.1:/g, "")}`,
    );
  }

  /**
   * CPU seconds QEMU has used so far (all its threads: the guest's vCPUs under TCG and the device emulation), from
   * /proc/<pid>/stat utime + stime, which Linux reports in USER_HZ (100 per second: proc(5)). On an idle host the
   * guests' CPU seconds over the host's cores bound how fast the tier can go; printed, never asserted.
   */
  cpuSeconds(): number {
    const pid = this.proc?.pid;
    if (pid !== undefined && this.exited === undefined) {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        // Fields after "(comm)": state is field 3, utime 14, stime 15 (proc(5)).
        this.cpuOfThisBoot = (Number(f[11]) + Number(f[12])) / 100;
      } catch {
        // gone meanwhile: keep the last reading
      }
    }
    return this.cpuOfEarlierBoots + this.cpuOfThisBoot;
  }
  private cpuOfThisBoot = 0;
  /** A guest booted again after freezing: its first boot's CPU counts too. */
  private cpuOfEarlierBoots = 0;

  /** Last lines of the serial console (kernel, systemd, cloud-init's own console output). */
  consoleTail(lines = 40): string {
    if (!existsSync(this.consoleLog)) return "(no console output)";
    return readFileSync(this.consoleLog, "utf8").replace(/\r/g, "").split("\n").slice(-lines).join("\n");
  }

  private lastConsoleLine(): string {
    const l =
      this.consoleTail(8)
        .split("\n")
        .map((s) => s.trim())
        .filter((s) => s.length > 0)
        .pop() ?? "";
    return l.slice(0, 120);
  }

  private assertRunning(): void {
    if (this.exited !== undefined) throw new Error(`${this.name}: ${this.exited}`);
  }

  // Generous ceilings: three TCG guests on a 2-core host that others also use can take many minutes to boot.
  async waitForSsh(timeoutMs = 40 * 60_000): Promise<number> {
    const start = Date.now();
    await waitUntilReady({
      what: `${this.name} ssh`,
      timeoutMs,
      check: async () => {
        this.assertRunning();
        if (this.crashed) throw new Error(`${this.name}: the guest froze in early boot: ${this.lastConsoleLine()}`);
        // A starved TCG guest can take most of a minute for the key exchange alone.
        const r = await this.ssh.exec("true", { timeoutMs: 60_000 });
        return r.code === 0 ? true : undefined;
      },
      progress: () => `console: ${this.lastConsoleLine()}`,
    });
    return Date.now() - start;
  }

  /** Waits for cloud-init's last stage (boot-finished), then returns `cloud-init status --long`. */
  async waitForCloudInit(timeoutMs = 30 * 60_000): Promise<{ ms: number; status: RunResult }> {
    const start = Date.now();
    await waitUntilReady({
      what: `${this.name} cloud-init`,
      timeoutMs,
      intervalMs: 5_000,
      check: async () => {
        this.assertRunning();
        const r = await this.ssh.exec("test -f /var/lib/cloud/instance/boot-finished", { timeoutMs: 20_000 });
        return r.code === 0 ? true : undefined;
      },
      progress: async () => {
        const r = await this.ssh.exec("sudo tail -n 1 /var/log/cloud-init-output.log", { timeoutMs: 20_000 });
        return `cloud-init-output: ${r.stdout.trim().slice(0, 120)}`;
      },
    });
    const status = await this.ssh.exec("cloud-init status --long", { timeoutMs: 60_000 });
    return { ms: Date.now() - start, status };
  }

  /** Everything useful after a failure: console tail and cloud-init logs (when SSH works). */
  async diagnostics(): Promise<string> {
    const parts = [`===== ${this.name}: serial console (tail) =====`, this.consoleTail(60)];
    if (this.exited) parts.push(`===== ${this.name}: ${this.exited}`);
    else {
      const r = await this.ssh.exec(
        "sudo tail -n 60 /var/log/cloud-init-output.log; echo '----- cloud-init.log (WARNING|ERROR|Traceback)'; " +
          "sudo grep -E 'WARNING|ERROR|Traceback' /var/log/cloud-init.log | tail -n 40; " +
          "echo '----- failed units'; systemctl --failed --no-legend",
        { timeoutMs: 30_000 },
      );
      parts.push(`===== ${this.name}: cloud-init logs (ssh exit ${r.code}) =====`, r.stdout, r.stderr);
    }
    return parts.join("\n");
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || this.exited !== undefined) return;
    this.stopping = true;
    this.cpuSeconds();
    const gone = new Promise<void>((r) => p.once("exit", () => r()));
    p.kill("SIGKILL");
    await gone;
  }
}
