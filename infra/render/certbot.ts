// Let's Encrypt for the web front door when a domain is set: certbot's webroot plugin answers the
// HTTP-01 challenge through nginx (the site serves /.well-known/acme-challenge/ on port 80), the
// deploy hook installs the certificate where nginx reads it and reloads nginx, and certbot's own
// timer renews it. MQTT keeps the stack's private CA.
import { isEmailAddress } from "../../protocol/email";
import { renderSystemdUnit, renderTimerUnit, timerUnitPaths, timerUnits } from "./systemd";
import { DEFAULT_SOURCE, absPath, header, lines } from "./text";

export const CERTBOT_UNITS = timerUnits("diy-certbot");

export const CERTBOT_PATHS = {
  script: "/usr/local/sbin/diy-certbot",
  deployHook: "/usr/local/sbin/diy-certbot-deploy",
  ...timerUnitPaths(CERTBOT_UNITS),
  webroot: "/var/www/letsencrypt",
  nginxCert: "/etc/nginx/tls/server.pem",
  nginxKey: "/etc/nginx/tls/server.key",
} as const;

const FQDN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

export interface CertbotInput {
  source?: string;
  /** stack: domain. */
  domain: string;
  /** stack: letsEncryptEmail (defaults to alertEmail in config). */
  email: string;
  /** Let's Encrypt's staging CA, for trying a setup without hitting rate limits. */
  staging?: boolean;
}

function checked(input: CertbotInput): { domain: string; email: string } {
  if (!FQDN.test(input.domain))
    throw new Error(`domain must be a lowercase DNS name like iot.example.com, got ${JSON.stringify(input.domain)}`);
  if (!isEmailAddress(input.email))
    throw new Error(`letsEncryptEmail must be a plain email address, got ${JSON.stringify(input.email)}`);
  return { domain: input.domain, email: input.email };
}

/** How long certbot's install waits for another apt (cloud-init's packages, unattended-upgrades) to finish. */
export const APT_LOCK_TIMEOUT_SECONDS = 600;

/**
 * /usr/local/sbin/diy-certbot: issues the certificate once (webroot through the running nginx) and
 * installs it for nginx. Idempotent: with a certificate already issued it only (re)installs it, which
 * also puts it back after a push rewrote the stack's own server certificate at nginx's paths.
 */
export function renderCertbotScript(input: CertbotInput): string {
  const { domain, email } = checked(input);
  return lines([
    "#!/bin/sh",
    ...header("#", "infra/render/certbot.ts", input.source ?? DEFAULT_SOURCE),
    `# Let's Encrypt certificate for ${domain}, installed for nginx by ${CERTBOT_PATHS.deployHook}.`,
    "set -eu",
    `DOMAIN=${domain}`,
    `EMAIL=${email}`,
    `WEBROOT=${CERTBOT_PATHS.webroot}`,
    'LIVE="/etc/letsencrypt/live/$DOMAIN"',
    "",
    "if ! command -v certbot >/dev/null; then",
    // apt-get fails at once when another apt holds the dpkg lock (DPkg::Lock::Timeout defaults to 0, apt-get(8));
    // on a fresh server cloud-init and then apt-daily/unattended-upgrades hold it for minutes.
    `  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=${APT_LOCK_TIMEOUT_SECONDS} install -y -q certbot >/dev/null`,
    "fi",
    'mkdir -p "$WEBROOT"',
    'if [ ! -e "$LIVE/fullchain.pem" ]; then',
    '  certbot certonly --webroot -w "$WEBROOT" -d "$DOMAIN" --cert-name "$DOMAIN" \\',
    '    --email "$EMAIL" --agree-tos --no-eff-email --non-interactive --keep-until-expiring \\',
    `    --deploy-hook ${CERTBOT_PATHS.deployHook}${input.staging ? " --test-cert" : ""}`,
    "fi",
    `RENEWED_LINEAGE="$LIVE" ${CERTBOT_PATHS.deployHook}`,
  ]);
}

/** Deploy hook (certbot runs it after each issuance and renewal): copy into nginx's paths, reload. */
export function renderCertbotDeployHook(input: CertbotInput): string {
  const { domain } = checked(input);
  return lines([
    "#!/bin/sh",
    ...header("#", "infra/render/certbot.ts", input.source ?? DEFAULT_SOURCE),
    "# Installs the Let's Encrypt certificate where nginx reads it and reloads nginx when it changed.",
    "set -eu",
    `live="\${RENEWED_LINEAGE:-/etc/letsencrypt/live/${domain}}"`,
    `cert=${absPath("nginxCert", CERTBOT_PATHS.nginxCert)}`,
    `key=${absPath("nginxKey", CERTBOT_PATHS.nginxKey)}`,
    'if [ ! -e "$live/fullchain.pem" ]; then',
    '  echo "diy-certbot-deploy: no certificate in $live yet" >&2',
    "  exit 0",
    "fi",
    "changed=0",
    'if ! cmp -s "$live/privkey.pem" "$key"; then install -m 0600 -o root -g root "$live/privkey.pem" "$key"; changed=1; fi',
    'if ! cmp -s "$live/fullchain.pem" "$cert"; then install -m 0644 -o root -g root "$live/fullchain.pem" "$cert"; changed=1; fi',
    'if [ "$changed" = 1 ]; then',
    "  nginx -t -q",
    "  systemctl reload nginx",
    '  echo "diy-certbot-deploy: nginx now serves the Let\'s Encrypt certificate from $live"',
    "fi",
  ]);
}

/** Retries the first issuance (DNS may not have propagated on the first push) and re-installs. */
export function renderCertbotService(input: { source?: string } = {}): string {
  return renderSystemdUnit({
    source: input.source,
    renderer: "infra/render/certbot.ts",
    sections: {
      Unit: [
        ["Description", "Let's Encrypt certificate for nginx (diy-device-cloud)"],
        ["Wants", "network-online.target"],
        ["After", "network-online.target nginx.service"],
      ],
      Service: [
        ["Type", "oneshot"],
        ["ExecStart", CERTBOT_PATHS.script],
      ],
    },
  });
}

export function renderCertbotTimer(input: { source?: string } = {}): string {
  return renderTimerUnit({
    source: input.source,
    renderer: "infra/render/certbot.ts",
    description: "Retry or re-install the Let's Encrypt certificate (renewal is certbot.timer's job)",
    schedule: { OnBootSec: "5min", OnUnitActiveSec: "6h", RandomizedDelaySec: "10min" },
  });
}
