// EC2 user data (#cloud-config): packages, sshd hardening, fail2ban's journal-backed jails and the
// mosquitto open-files drop-in. Stored in clear and capped at 16 KB by EC2: no secrets, nothing big;
// certificates and configs arrive later through the SSH push (push-script.ts).
import { stringify } from "yaml";
import {
  type Fail2banJailInput,
  WEB_LOGIN_FILTER_PATH,
  renderFail2banJail,
  renderFail2banWebLoginFilter,
} from "./fail2ban";
import { DEFAULT_SOURCE, headedFiles, header } from "./text";
import { MOSQUITTO_DROP_IN_PATH, renderMosquittoDropIn } from "./systemd";

const file = headedFiles("#", "infra/render/cloud-config.ts");
/** APT reads C-style comments. */
const aptFile = headedFiles("//", "infra/render/cloud-config.ts");

export interface CloudConfigInput {
  source?: string;
  hostname: string;
  fail2ban?: Omit<Fail2banJailInput, "source">;
  /** mosquitto runs on the server (the mosquitto broker profile, default): its package and open-files drop-in. */
  localBroker?: boolean;
  mosquittoLimitNofile?: number;
  /** Full `apt upgrade` at first boot (slow on a micro); unattended-upgrades applies security fixes daily anyway. */
  upgradePackages?: boolean;
  /**
   * OpenSSH public keys ("ssh-ed25519 AAAA...") for the image's default user (admin/ubuntu): cloud-init's
   * `ssh_authorized_keys` (cc_ssh) adds them to its authorized_keys. Public, so fine in clear user data.
   */
  adminPublicKeys?: readonly string[];
}

const SSH_PUBLIC_KEY = /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,3}( [^\n]*)?$/;

function validPublicKeys(keys: readonly string[]): string[] {
  return keys.map((k) => {
    const key = k.trim();
    if (!SSH_PUBLIC_KEY.test(key))
      throw new Error(`admin public key must be one OpenSSH public key line, got ${JSON.stringify(k.slice(0, 40))}`);
    return key;
  });
}

/** EC2 refuses larger user data. */
export const USER_DATA_LIMIT_BYTES = 16 * 1024;

export const SERVER_PACKAGES = [
  "mosquitto",
  "nginx",
  "fail2ban",
  "python3-systemd",
  "nftables",
  "postfix",
  "libsasl2-modules",
  "nodejs",
  "unattended-upgrades",
  "ca-certificates",
] as const;

export const SSHD_DROP_IN_PATH = "/etc/ssh/sshd_config.d/10-diy-hardening.conf";

/** Read before the images' own 50-cloud-init.conf: sshd keeps the first value it reads. */
export function renderSshdDropIn(input: { source?: string } = {}): string {
  return file(input.source, [
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "PermitRootLogin no",
    "PubkeyAuthentication yes",
    "PermitEmptyPasswords no",
    "MaxAuthTries 3",
    "X11Forwarding no",
  ]);
}

export function renderAutoUpgrades(input: { source?: string } = {}): string {
  return aptFile(input.source, ['APT::Periodic::Update-Package-Lists "1";', 'APT::Periodic::Unattended-Upgrade "1";']);
}

function validHostname(name: string): string {
  if (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(name)) {
    throw new Error(`hostname must be one DNS label (a-z, 0-9, -), got ${JSON.stringify(name)}`);
  }
  return name;
}

export function renderCloudConfig(input: CloudConfigInput): string {
  const source = input.source ?? DEFAULT_SOURCE;
  const hostname = validHostname(input.hostname);
  const file = (path: string, content: string) => ({ path, owner: "root:root", permissions: "0644", content });
  const localBroker = input.localBroker !== false;
  const doc = {
    hostname,
    manage_etc_hosts: true,
    ssh_pwauth: false,
    disable_root: true,
    ...(input.adminPublicKeys?.length ? { ssh_authorized_keys: validPublicKeys(input.adminPublicKeys) } : {}),
    // postfix installs without a prompt; push-script writes its main.cf. cloud-init reads debconf_selections
    // only under `apt:` (cc_apt_configure, which runs in the config stage, before the final stage installs the
    // packages); a top-level key is ignored by 22.4 and refused by the 24.x/25.x schema.
    apt: {
      debconf_selections: {
        postfix: [
          "postfix postfix/main_mailer_type select No configuration",
          `postfix postfix/mailname string ${hostname}`,
        ].join("\n"),
      },
    },
    package_update: true,
    package_upgrade: input.upgradePackages ?? false,
    packages: localBroker ? [...SERVER_PACKAGES] : SERVER_PACKAGES.filter((p) => p !== "mosquitto"),
    // Written in the init stage, before the packages start their services: fail2ban must find
    // backend = systemd on its first start, mosquitto its LimitNOFILE.
    write_files: [
      file(SSHD_DROP_IN_PATH, renderSshdDropIn({ source })),
      file("/etc/fail2ban/jail.local", renderFail2banJail({ ...input.fail2ban, source })),
      // The web login jail names this filter: fail2ban refuses to start without it.
      file(WEB_LOGIN_FILTER_PATH, renderFail2banWebLoginFilter({ source })),
      ...(localBroker
        ? [file(MOSQUITTO_DROP_IN_PATH, renderMosquittoDropIn({ source, limitNofile: input.mosquittoLimitNofile }))]
        : []),
      file("/etc/apt/apt.conf.d/20auto-upgrades", renderAutoUpgrades({ source })),
    ],
    runcmd: [
      "systemctl daemon-reload",
      "systemctl try-reload-or-restart ssh.service",
      "systemctl enable fail2ban.service",
      `systemctl restart fail2ban.service${localBroker ? " mosquitto.service" : ""}`,
    ],
  };
  const body = stringify(doc, { lineWidth: 0 });
  const text = `#cloud-config\n${header("#", "infra/render/cloud-config.ts", source).join("\n")}\n${body}`;
  const size = Buffer.byteLength(text, "utf8");
  if (size > USER_DATA_LIMIT_BYTES) throw new Error(`user data is ${size} bytes, over EC2's ${USER_DATA_LIMIT_BYTES}`);
  return text;
}
