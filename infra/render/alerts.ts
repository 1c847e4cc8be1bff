// Server-side alerts: one small mail script (rate limited, log-only without an address), the
// fail2ban action that calls it on a ban (no whois, no log excerpts: short mails), and a daily
// certificate/CRL expiry check as a systemd service + timer.
import { isEmailAddress } from "../../protocol/email";
import { renderSystemdUnit, renderTimerUnit, timerUnitPaths, timerUnits } from "./systemd";
import { DEFAULT_SOURCE, absPath, headedFiles, header, lines, oneLine, positiveInt } from "./text";

const file = headedFiles("#", "infra/render/alerts.ts");

export const CERT_CHECK_UNITS = timerUnits("diy-cert-check");
const CERT_CHECK_PATHS = timerUnitPaths(CERT_CHECK_UNITS);

/** Where the pieces live on the server. */
export const ALERT_PATHS = {
  script: "/usr/local/sbin/diy-alert",
  stateDir: "/var/lib/diy-alert",
  // .local overrides the stock sendmail action that jail.local (infra/render/fail2ban.ts) names
  fail2banAction: "/etc/fail2ban/action.d/sendmail.local",
  certCheckScript: "/usr/local/sbin/diy-cert-check",
  certCheckService: CERT_CHECK_PATHS.service,
  certCheckTimer: CERT_CHECK_PATHS.timer,
} as const;

/** The action the jail lists to mail on bans; our sendmail.local replaces its definition. */
export const FAIL2BAN_MAIL_ACTION = "sendmail";

export interface AlertScriptInput {
  source?: string;
  /** stack: alertEmail; absent → alerts go to the journal only (tag diy-alert). */
  alertEmail?: string;
  /** stack: alertRateLimitMinutes: at most one mail per alert key in this window. */
  rateLimitMinutes: number;
  subjectPrefix?: string;
  sendmailPath?: string;
  stateDir?: string;
}

function shellSingleQuoted(what: string, value: string): string {
  if (value !== "") oneLine(what, value);
  if (value.includes("'")) throw new Error(`${what} must not contain a single quote, got ${JSON.stringify(value)}`);
  return `'${value}'`;
}

/**
 * /usr/local/sbin/diy-alert KEY SUBJECT < BODY: mails the alert address through sendmail (postfix,
 * which relays and rewrites the sender) at most once per KEY per window, counting what it held
 * back; without an address it only logs.
 */
export function renderAlertScript(input: AlertScriptInput): string {
  const to = input.alertEmail ?? "";
  if (to !== "" && !isEmailAddress(to))
    throw new Error(`alertEmail must be a plain email address, got ${JSON.stringify(to)}`);
  const window = positiveInt("rateLimitMinutes", input.rateLimitMinutes) * 60;
  return lines([
    "#!/bin/sh",
    ...header("#", "infra/render/alerts.ts", input.source ?? DEFAULT_SOURCE),
    "# Usage: diy-alert KEY SUBJECT < BODY",
    "# Mails at most once per KEY per window (counting what it held back); logs only without an address.",
    "set -eu",
    `TO=${shellSingleQuoted("alertEmail", to)}`,
    `WINDOW=${window}`,
    `SENDMAIL=${absPath("sendmailPath", input.sendmailPath ?? "/usr/sbin/sendmail")}`,
    `STATE=${absPath("stateDir", input.stateDir ?? ALERT_PATHS.stateDir)}`,
    `PREFIX=${shellSingleQuoted("subjectPrefix", input.subjectPrefix ?? "[diy-cloud]")}`,
    "",
    'key=$(printf %s "${1:?usage: diy-alert KEY SUBJECT < BODY}" | tr -c "A-Za-z0-9_.-" "_")',
    'subject=$(printf %s "${2:?usage: diy-alert KEY SUBJECT < BODY}" | tr -d "\\r\\n" | cut -c1-200)',
    "body=$(head -c 4000)",
    "now=$(date +%s)",
    'log() { logger -t diy-alert -- "$*" 2>/dev/null || printf "diy-alert: %s\\n" "$*" >&2; }',
    "",
    "umask 077",
    'mkdir -p "$STATE"',
    'last=$(cat "$STATE/$key.last" 2>/dev/null || echo 0)',
    'held=$(cat "$STATE/$key.held" 2>/dev/null || echo 0)',
    'if [ $((now - last)) -lt "$WINDOW" ]; then',
    '  echo $((held + 1)) > "$STATE/$key.held"',
    '  log "held back (at most one mail per $((WINDOW / 60)) min for $key): $subject"',
    "  exit 0",
    "fi",
    'if [ "$held" -gt 0 ]; then',
    '  body=$(printf "%s\\n\\n%s similar alert(s) since the last mail were held back by the rate limit." "$body" "$held")',
    "fi",
    'if [ -z "$TO" ]; then',
    '  log "$subject (no alertEmail configured, not mailed)"',
    "else",
    '  printf "To: %s\\nSubject: %s %s\\nDate: %s\\nMIME-Version: 1.0\\nContent-Type: text/plain; charset=utf-8\\nAuto-Submitted: auto-generated\\n\\n%s\\n" \\',
    '    "$TO" "$PREFIX" "$subject" "$(LC_ALL=C date -R)" "$body" | "$SENDMAIL" -i -- "$TO"',
    '  log "mailed $TO: $subject"',
    "fi",
    'echo "$now" > "$STATE/$key.last"',
    'rm -f "$STATE/$key.held"',
  ]);
}

export interface Fail2banMailActionInput {
  source?: string;
  alertScript?: string;
}

/**
 * fail2ban action override (action.d/sendmail.local): one short mail per ban (IP, jail, failures)
 * through diy-alert, no whois lookup, no log lines, and no mails when a jail starts or stops.
 * Bans restored from fail2ban's database at restart are not mailed again (norestored).
 * `%` is doubled: fail2ban reads action files with Python's ConfigParser interpolation.
 */
export function renderFail2banMailAction(input: Fail2banMailActionInput = {}): string {
  const script = absPath("alertScript", input.alertScript ?? ALERT_PATHS.script);
  return file(input.source, [
    "# Mails a short notice on each ban through diy-alert (rate limited per jail).",
    "[Definition]",
    "norestored = 1",
    "actionstart =",
    "actionstop =",
    "actioncheck =",
    `actionban = printf %%s "fail2ban jail <name> banned <ip> after <failures> failures." | ${script} "fail2ban-<name>" "fail2ban: <name> banned <ip>"`,
    "actionunban =",
  ]);
}

export interface CertCheckInput {
  source?: string;
  /** stack: certExpiryWarnDays. */
  warnDays: number;
  /** Certificates on the server; missing files are skipped (e.g. before Let's Encrypt issued). */
  certs: readonly string[];
  /** The mosquitto CRL: past its nextUpdate OpenSSL refuses every client. */
  crl?: string;
  alertScript?: string;
}

/** Default list: every certificate the push writes on the server. */
export const SERVER_CERTS: readonly string[] = [
  "/etc/mosquitto/certs/ca.pem",
  "/etc/mosquitto/certs/server.pem",
  "/etc/nginx/tls/server.pem",
  "/etc/diy-web/web.pem",
];

export function renderCertCheckScript(input: CertCheckInput): string {
  const days = positiveInt("certExpiryWarnDays", input.warnDays); // named as the stack key it comes from
  if (input.certs.length === 0) throw new Error("certs must list at least one certificate");
  const certs = input.certs.map((c) => absPath("certs[]", c));
  const script = absPath("alertScript", input.alertScript ?? ALERT_PATHS.script);
  return lines([
    "#!/bin/sh",
    ...header("#", "infra/render/alerts.ts", input.source ?? DEFAULT_SOURCE),
    `# Mails (through diy-alert) when a certificate or the CRL ends within ${days} days.`,
    "set -u",
    `WARN_DAYS=${days}`,
    "window=$((WARN_DAYS * 86400))",
    'report=""',
    `set -- ${certs.join(" ")}`,
    'for f in "$@"; do',
    '  [ -e "$f" ] || continue',
    '  if ! openssl x509 -checkend "$window" -noout -in "$f" >/dev/null 2>&1; then',
    '    end=$(openssl x509 -enddate -noout -in "$f" 2>/dev/null | cut -d= -f2-)',
    '    report="${report}${f} expires ${end:-(unreadable)}\\n"',
    "  fi",
    "done",
    ...(input.crl === undefined
      ? []
      : [
          `crl=${absPath("crl", input.crl)}`,
          'if [ -e "$crl" ]; then',
          '  next=$(openssl crl -nextupdate -noout -in "$crl" 2>/dev/null | cut -d= -f2-)',
          '  if [ -z "$next" ]; then',
          '    report="${report}${crl} is unreadable\\n"',
          '  elif [ "$next" != NONE ] && [ "$(date -d "$next" +%s)" -lt $(($(date +%s) + window)) ]; then',
          '    report="${report}${crl} nextUpdate ${next}: past it every device is refused; run pulumi up\\n"',
          "  fi",
          "fi",
        ]),
    'if [ -n "$report" ]; then',
    `  printf "%b" "$report" | ${script} cert-expiry "certificates end within ${days} days on $(hostname)"`,
    "  exit 1",
    "fi",
    'echo "all certificates valid for more than ${WARN_DAYS} days"',
  ]);
}

export function renderCertCheckService(input: { source?: string; script?: string } = {}): string {
  return renderSystemdUnit({
    source: input.source,
    renderer: "infra/render/alerts.ts",
    sections: {
      Unit: [["Description", "Mail when a certificate on this server is about to expire (diy-device-cloud)"]],
      Service: [
        ["Type", "oneshot"],
        ["ExecStart", absPath("script", input.script ?? ALERT_PATHS.certCheckScript)],
        // exit 1 = "something expires": an alert was sent, the unit should not look broken for it
        ["SuccessExitStatus", "1"],
        ["PrivateTmp", "true"],
      ],
    },
  });
}

export function renderCertCheckTimer(input: { source?: string } = {}): string {
  return renderTimerUnit({
    source: input.source,
    renderer: "infra/render/alerts.ts",
    description: "Daily certificate expiry check (diy-device-cloud)",
    schedule: { OnCalendar: "daily", RandomizedDelaySec: "1h", Persistent: "true" },
  });
}
