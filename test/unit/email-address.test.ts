// One rule for an e-mail address (protocol/email.ts), the same at every place an address enters or leaves
// the stack: the stack config, postfix, fail2ban, the alert and certbot scripts, the web app's alerts
// config and its sendmail transport. Before, six regexes disagreed (certbot's let `a&b@x.com` into an
// unquoted shell line).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { AlertsConfig, createMailTransport } from "../../apps/web/alerts";
import { parseSettings, type SecretKey } from "../../infra/config";
import { renderAlertScript } from "../../infra/render/alerts";
import { renderCertbotScript } from "../../infra/render/certbot";
import { renderFail2banJail } from "../../infra/render/fail2ban";
import { renderPostfixMainCf } from "../../infra/render/postfix";
import { isEmailAddress } from "../../protocol/email";

const GOOD = [
  "me@example.com",
  "first.last@example.com",
  "ops+alerts@mail.example.co.uk",
  "a_b%c-d@sub-domain.example.org",
  "lab@lab.internal",
  "root@diy-cloud.test",
  `${"l".repeat(64)}@example.com`,
];

const BAD = [
  "",
  "me",
  "me@",
  "@example.com",
  "me@localhost", // one label: not a domain on the internet
  "me@example", // no top-level domain
  "me@example.c", // a one-letter top-level domain
  "me@example.123",
  "me@[192.0.2.1]", // address literal
  "me@-example.com",
  "me@example-.com",
  "me@exa_mple.com",
  "me@example..com",
  ".me@example.com",
  "me.@example.com",
  "m..e@example.com",
  "a&b@example.com", // & | ; $ ` ( ) < > * ? ' " \ are special to sh
  "a|b@example.com",
  "a;b@example.com",
  "$(id)@example.com",
  "`id`@example.com",
  "a'b@example.com",
  '"a b"@example.com',
  "a\\b@example.com",
  "a*b@example.com",
  "a=b@example.com", // = and # are special in main.cf and jail.d
  "a#b@example.com",
  "a,b@example.com",
  "a@b@example.com",
  "Me <me@example.com>",
  "me @example.com",
  "me@example.com\nrm -rf /",
  "me@example.com ",
  "two@x.com three@y.com",
  "ünï@example.com",
  "me@exämple.com",
  `${"l".repeat(65)}@example.com`,
  `me@${"d".repeat(63)}.${"d".repeat(63)}.${"d".repeat(63)}.${"d".repeat(63)}.com`, // over 254
];

const refuses = (f: () => unknown): boolean => {
  try {
    f();
    return false;
  } catch {
    return true;
  }
};

/** Each place an address is checked: true when it accepts `a`. */
const PLACES: Record<string, (a: string) => boolean> = {
  "stack config alertEmail": (a) => {
    const raw = { adminCidrs: '["198.51.100.7/32"]', alertEmail: a, smtpHost: "smtp.example.com", smtpFrom: a };
    return !refuses(() => parseSettings(raw, (k: SecretKey) => pulumi.secret(String(raw[k as keyof typeof raw]))));
  },
  "postfix smtpFrom": (a) => !refuses(() => renderPostfixMainCf({ hostname: "diy", smtpFrom: a })),
  "fail2ban destemail": (a) => !refuses(() => renderFail2banJail({ mail: { destemail: a, sender: a } })),
  "alert script": (a) => !refuses(() => renderAlertScript({ alertEmail: a, rateLimitMinutes: 60 })),
  certbot: (a) => !refuses(() => renderCertbotScript({ domain: "iot.example.com", email: a })),
  "web alerts config": (a) =>
    AlertsConfig.safeParse({ offlineAfterMinutes: 5, rateLimitMinutes: 60, email: a }).success,
  "web mail transport": (a) => !refuses(() => createMailTransport({ to: a, log: () => {} })),
};

describe("e-mail addresses: one rule", () => {
  it("accepts plain addresses and refuses everything else", () => {
    for (const a of GOOD) assert.ok(isEmailAddress(a), `refused ${JSON.stringify(a)}`);
    for (const a of BAD) assert.ok(!isEmailAddress(a), `accepted ${JSON.stringify(a)}`);
  });

  it("every place that takes an address applies exactly that rule", () => {
    for (const [place, accepts] of Object.entries(PLACES)) {
      for (const a of GOOD) assert.ok(accepts(a), `${place} refused ${JSON.stringify(a)}`);
      // "" is how the mail transport and the alert script say "no address", and the config and the transport
      // trim what they read: values with outer whitespace are left to their own tests.
      for (const a of BAD.filter((b) => b !== "" && b.trim() === b))
        assert.ok(!accepts(a), `${place} accepted ${JSON.stringify(a)}`);
    }
  });
});
