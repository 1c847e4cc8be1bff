// postfix as a loopback-only satellite: mail written on this host (fail2ban, the web app's alerts)
// is relayed to the configured SMTP host over TLS with SASL; nothing is delivered locally and
// nothing is accepted from the network. Without a relay host, mail is refused and only logged.
import { isEmailAddress } from "../../protocol/email";
import { DEFAULT_SOURCE, headedFiles, header, lines, oneLine, port, token } from "./text";

const file = headedFiles("#", "infra/render/postfix.ts");

export interface SmtpRelay {
  host: string;
  port?: number;
  /** SASL login; omitted for a relay that authorises by address. */
  user?: string;
}

export interface PostfixMainCfInput {
  source?: string;
  /** This host's name in HELO and generated addresses. */
  hostname: string;
  relay?: SmtpRelay;
  /** Every sender address is rewritten to this one (what the relay lets us send as). */
  smtpFrom?: string;
  saslPasswordMap?: string;
  senderCanonicalMap?: string;
}

export const SERVER_POSTFIX_PATHS = {
  mainCf: "/etc/postfix/main.cf",
  saslPasswd: "/etc/postfix/sasl_passwd",
} as const;

const HOST = /^[A-Za-z0-9.-]+$/;

function relayTarget(relay: SmtpRelay): string {
  if (!HOST.test(relay.host)) throw new Error(`relay.host must be a host name, got ${JSON.stringify(relay.host)}`);
  return `[${relay.host}]:${port("relay.port", relay.port ?? 587)}`;
}

export function renderPostfixMainCf(input: PostfixMainCfInput): string {
  if (!HOST.test(input.hostname))
    throw new Error(`hostname must be a host name, got ${JSON.stringify(input.hostname)}`);
  const out = [
    ...header("#", "infra/render/postfix.ts", input.source ?? DEFAULT_SOURCE),
    "",
    "compatibility_level = 3.6",
    `myhostname = ${input.hostname}`,
    "myorigin = $myhostname",
    "",
    "# Loopback only: local programs submit, nobody else",
    "inet_interfaces = loopback-only",
    "inet_protocols = all",
    // The host itself only: not the rest of 127/8 (other local services and containers may bind there)
    "mynetworks = 127.0.0.1/32 [::1]/128",
    "smtpd_relay_restrictions = permit_mynetworks, reject",
    "smtpd_banner = $myhostname ESMTP",
    "biff = no",
    "",
    "# No local delivery",
    "mydestination =",
    "local_recipient_maps =",
    "alias_maps =",
    "alias_database =",
    "local_transport = error:local delivery is disabled on this host",
  ];
  if (input.smtpFrom !== undefined) {
    if (!isEmailAddress(input.smtpFrom))
      throw new Error(`smtpFrom must be one mail address, got ${JSON.stringify(input.smtpFrom)}`);
    out.push(
      "",
      "# Every sender becomes the address the relay accepts",
      `sender_canonical_maps = static:${input.smtpFrom}`,
    );
  }
  out.push("");
  if (input.relay === undefined) {
    out.push(
      "# No relay host configured (diy-device-cloud:smtpHost): mail is refused and logged",
      "relayhost =",
      "default_transport = error:no SMTP relay configured (set diy-device-cloud:smtpHost)",
    );
    return lines(out);
  }
  out.push(
    "# Relay through the configured SMTP host, TLS required",
    `relayhost = ${relayTarget(input.relay)}`,
    "smtp_tls_security_level = encrypt",
    "smtp_tls_CAfile = /etc/ssl/certs/ca-certificates.crt",
    "smtp_tls_loglevel = 1",
  );
  if (input.relay.user !== undefined) {
    out.push(
      "smtp_sasl_auth_enable = yes",
      `smtp_sasl_password_maps = hash:${token("saslPasswordMap", input.saslPasswordMap ?? SERVER_POSTFIX_PATHS.saslPasswd)}`,
      "smtp_sasl_security_options = noanonymous",
      "smtp_sasl_tls_security_options = noanonymous",
    );
  }
  return lines(out);
}

/** /etc/postfix/sasl_passwd (secret, 0600 root): `[host]:port user:password`, postmap'd on the server. */
export function renderSaslPasswd(input: {
  source?: string;
  relay: SmtpRelay & { user: string };
  password: string;
}): string {
  const user = oneLine("relay.user", input.relay.user);
  const password = oneLine("smtpPassword", input.password);
  if (/\s/.test(user) || /\s/.test(password)) throw new Error("SMTP user and password must not contain whitespace");
  return file(input.source, [`${relayTarget(input.relay)} ${user}:${password}`]);
}
