// Everything the operations side adds to the server push, from plain settings: the alert script,
// fail2ban's mail action, the certificate expiry timer, Let's Encrypt (with a domain) and dynamic DNS
// (with an update URL), plus the commands the push runs last to switch the timers on or off.
import {
  ALERT_PATHS,
  CERT_CHECK_UNITS,
  SERVER_CERTS,
  renderAlertScript,
  renderCertCheckScript,
  renderCertCheckService,
  renderCertCheckTimer,
  renderFail2banMailAction,
} from "./alerts";
import {
  CERTBOT_PATHS,
  CERTBOT_UNITS,
  renderCertbotDeployHook,
  renderCertbotScript,
  renderCertbotService,
  renderCertbotTimer,
} from "./certbot";
import {
  DDNS_ENV_VAR,
  DDNS_PATHS,
  DDNS_UNITS,
  checkDdnsUrl,
  renderDdnsScript,
  renderDdnsService,
  renderDdnsTimer,
} from "./ddns";
import { SERVER_MOSQUITTO_PATHS } from "./mosquitto";
import type { PushFile } from "./push-script";
import { renderEnvFile } from "./server-files";

export interface OpsInput {
  source?: string;
  /** stack: alertEmail (needs smtpHost); absent → alerts are logged only. */
  alertEmail?: string;
  alertRateLimitMinutes: number;
  certExpiryWarnDays: number;
  /** stack: domain + letsEncryptEmail: nginx gets a Let's Encrypt certificate. */
  letsEncrypt?: { domain: string; email: string };
  /** stack: ddnsUpdateUrl (secret), only without Route53. */
  ddnsUpdateUrl?: string;
  /** mosquitto runs on the server (default): its certificates and CRL are watched too. */
  localBroker?: boolean;
}

export interface OpsPush {
  files: PushFile[];
  /** Shell commands the push runs after the services are up (timers on/off, first issuance). */
  after: string[];
}

/** mosquitto's own certificates among SERVER_CERTS: not on a server without it (the iot-core broker profile). */
const MOSQUITTO_CERTS: readonly string[] = [SERVER_MOSQUITTO_PATHS.cafile, SERVER_MOSQUITTO_PATHS.certfile];

const root = { owner: "root", group: "root" } as const;
const script = (path: string, content: string): PushFile => ({ path, content, mode: "0755", ...root });
const unit = (path: string, content: string): PushFile => ({ path, content, mode: "0644", ...root, systemd: true });
const enableNow = (name: string) => `systemctl enable --now --quiet ${name}`;
/** A timer an earlier push switched on, off again (its unit file stays: the push never deletes). */
const disableIfThere = (path: string, name: string) =>
  `if [ -e ${path} ]; then systemctl disable --now --quiet ${name}; fi`;

export function renderOpsPush(input: OpsInput): OpsPush {
  const source = input.source;
  const files: PushFile[] = [
    script(
      ALERT_PATHS.script,
      renderAlertScript({ source, alertEmail: input.alertEmail, rateLimitMinutes: input.alertRateLimitMinutes }),
    ),
    {
      path: ALERT_PATHS.fail2banAction,
      content: renderFail2banMailAction({ source }),
      mode: "0644",
      ...root,
      services: ["fail2ban"],
    },
    script(
      ALERT_PATHS.certCheckScript,
      renderCertCheckScript({
        source,
        warnDays: input.certExpiryWarnDays,
        certs: [
          ...(input.localBroker === false ? SERVER_CERTS.filter((c) => !MOSQUITTO_CERTS.includes(c)) : SERVER_CERTS),
          ...(input.letsEncrypt ? [`/etc/letsencrypt/live/${input.letsEncrypt.domain}/fullchain.pem`] : []),
        ],
        ...(input.localBroker === false ? {} : { crl: SERVER_MOSQUITTO_PATHS.crlfile }),
      }),
    ),
    unit(ALERT_PATHS.certCheckService, renderCertCheckService({ source })),
    unit(ALERT_PATHS.certCheckTimer, renderCertCheckTimer({ source })),
  ];
  const after = [enableNow(CERT_CHECK_UNITS.timer)];

  if (input.letsEncrypt) {
    const le = { source, ...input.letsEncrypt };
    files.push(
      script(CERTBOT_PATHS.script, renderCertbotScript(le)),
      script(CERTBOT_PATHS.deployHook, renderCertbotDeployHook(le)),
      unit(CERTBOT_PATHS.service, renderCertbotService({ source })),
      unit(CERTBOT_PATHS.timer, renderCertbotTimer({ source })),
    );
    after.push(CERTBOT_PATHS.script, enableNow(CERTBOT_UNITS.timer));
  } else {
    after.push(disableIfThere(CERTBOT_PATHS.timer, CERTBOT_UNITS.timer));
  }

  if (input.ddnsUpdateUrl !== undefined) {
    files.push(
      {
        path: DDNS_PATHS.env,
        content: renderEnvFile({ source, vars: { [DDNS_ENV_VAR]: checkDdnsUrl(input.ddnsUpdateUrl) } }),
        mode: "0600",
        ...root,
        secret: true,
      },
      script(DDNS_PATHS.script, renderDdnsScript({ source })),
      unit(DDNS_PATHS.service, renderDdnsService({ source })),
      unit(DDNS_PATHS.timer, renderDdnsTimer({ source })),
    );
    after.push(enableNow(DDNS_UNITS.timer), `systemctl start ${DDNS_UNITS.service}`);
  } else {
    after.push(disableIfThere(DDNS_PATHS.timer, DDNS_UNITS.timer));
  }
  return { files, after };
}
