// fail2ban jail.local: the sshd jail reads the systemd journal (Debian 12 has no auth.log, so the
// default `backend = auto` jail fails to start), bans with nftables, optionally mails each ban.
// The diy-web-login jail bans addresses that keep failing the web login: the app's own limiter lives
// in memory and forgets on every restart, a ban does not. Its filter is rendered here too.
import { EMAIL_ADDRESS } from "../../protocol/email";
import { DEFAULT_SOURCE, headedFiles, header, lines, oneLine, port, positiveInt } from "./text";

const file = headedFiles("#", "infra/render/fail2ban.ts");

/** The jail (and filter) that watches the web app's `login_failed` log events. */
export const WEB_LOGIN_JAIL = "diy-web-login";
export const WEB_LOGIN_FILTER_PATH = `/etc/fail2ban/filter.d/${WEB_LOGIN_JAIL}.conf`;
/** The unit whose journal the filter reads (renderDiyWebUnit). */
const WEB_UNIT = "diy-web.service";

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
      `destemail = ${checked("mail.destemail", mail.destemail, EMAIL_ADDRESS)}`,
      `sender = ${checked("mail.sender", mail.sender, EMAIL_ADDRESS)}`,
      "mta = sendmail",
      "action = %(action_)s",
      '         %(mta)s[sender="%(sender)s", dest="%(destemail)s"]',
    );
  }
  out.push("", "[sshd]", "enabled = true", "backend = systemd", `port = ${port("sshPort", input.sshPort ?? 22)}`);
  // Filter in WEB_LOGIN_FILTER_PATH (renderFail2banWebLoginFilter); maxretry/findtime/bantime as above.
  out.push("", `[${WEB_LOGIN_JAIL}]`, "enabled = true", "backend = systemd", `filter = ${WEB_LOGIN_JAIL}`);
  out.push("port = http,https");
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

/**
 * filter.d/diy-web-login.conf: one failure per `login_failed` line of the web app (apps/web/app.ts),
 * read from its unit's journal. A line is what fail2ban's systemd backend builds from a journal entry
 * ("<_HOSTNAME> <SYSLOG_IDENTIFIER>[<PID>]: <MESSAGE>", fail2ban/server/filtersystemd.py
 * formatJournalEntry); MESSAGE is one JSON line in the shared log format (protocol/log.ts): time, level, event first, then
 * the fields. The address must be the "ip" field of a login_failed event: other fields' values are
 * matched without quotes or backslashes, so text an attacker puts into another event (a request path)
 * cannot pose as one. The time comes from the journal (datepattern {NONE}: the JSON time is not read).
 */
export function renderFail2banWebLoginFilter(input: { source?: string } = {}): string {
  const field = `"[a-z_]+":(?:"[^"\\\\]*"|-?[0-9.]+|true|false|null)`;
  return file(input.source, [
    "",
    "[INCLUDES]",
    "before = common.conf",
    "",
    "[Definition]",
    `failregex = ^%(__prefix_line)s\\{"time":"[^"]*","level":"warn","event":"login_failed",(?:${field},)*"ip":"(?:::ffff:)?<ADDR>"(?:,${field})*\\}$`,
    "ignoreregex =",
    "datepattern = {NONE}",
    `journalmatch = _SYSTEMD_UNIT=${WEB_UNIT}`,
  ]);
}
