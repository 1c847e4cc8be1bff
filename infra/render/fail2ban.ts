// fail2ban jail.local: the sshd jail reads the systemd journal (Debian 12 has no auth.log, so the
// default `backend = auto` jail fails to start), bans with nftables, optionally mails each ban.
import { DEFAULT_SOURCE, header, lines, oneLine, port, positiveInt } from "./text";

export interface Fail2banJailInput {
  source?: string;
  /** SSH port sshd listens on. */
  sshPort?: number;
  bantime?: string;
  findtime?: string;
  maxretry?: number;
  /** Addresses never banned (the admin CIDRs, say); loopback is always ignored. */
  ignoreIps?: readonly string[];
  /** Mail each ban to `destemail` through the local postfix (sendmail). */
  mail?: { destemail: string; sender: string };
  /** Ban clients that nginx's limit_req keeps refusing (reads nginx's error log). */
  nginxLimitReq?: { logPath?: string; maxretry?: number };
}

const EMAIL = /^[^\s@"'\\]+@[^\s@"'\\]+$/;
const DURATION = /^[1-9][0-9]*[smhdw]?$/;
const ADDRESS = /^[0-9a-fA-F.:]+(\/[0-9]{1,3})?$/;

function checked(what: string, value: string, pattern: RegExp): string {
  if (!pattern.test(value)) throw new Error(`${what} is not valid: ${JSON.stringify(value)}`);
  return value;
}

export function renderFail2banJail(input: Fail2banJailInput): string {
  const ignore = [
    "127.0.0.1/8",
    "::1",
    ...(input.ignoreIps ?? []).map((ip) => checked("ignoreIps entry", ip, ADDRESS)),
  ];
  const mail = input.mail;
  const out = [
    ...header("#", "infra/render/fail2ban.ts", input.source ?? DEFAULT_SOURCE),
    "",
    "[DEFAULT]",
    `ignoreip = ${ignore.join(" ")}`,
    `bantime = ${checked("bantime", input.bantime ?? "1h", DURATION)}`,
    `findtime = ${checked("findtime", input.findtime ?? "10m", DURATION)}`,
    `maxretry = ${positiveInt("maxretry", input.maxretry ?? 5)}`,
    "banaction = nftables-multiport",
    "banaction_allports = nftables-allports",
  ];
  if (mail) {
    out.push(
      `destemail = ${checked("mail.destemail", mail.destemail, EMAIL)}`,
      `sender = ${checked("mail.sender", mail.sender, EMAIL)}`,
      "mta = sendmail",
      "action = %(action_)s",
      '         %(mta)s[sender="%(sender)s", dest="%(destemail)s"]',
    );
  }
  out.push("", "[sshd]", "enabled = true", "backend = systemd", `port = ${port("sshPort", input.sshPort ?? 22)}`);
  if (input.nginxLimitReq) {
    out.push(
      "",
      "[nginx-limit-req]",
      "enabled = true",
      "backend = auto",
      "port = http,https",
      `logpath = ${oneLine("nginxLimitReq.logPath", input.nginxLimitReq.logPath ?? "/var/log/nginx/error.log")}`,
      `maxretry = ${positiveInt("nginxLimitReq.maxretry", input.nginxLimitReq.maxretry ?? 10)}`,
    );
  }
  return lines(out);
}
