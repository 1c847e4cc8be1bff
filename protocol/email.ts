// The one rule for an e-mail address anywhere in the stack: alertEmail, letsEncryptEmail and smtpFrom in
// the stack config (infra/config.ts), and again where each reaches a machine: postfix's main.cf, fail2ban's
// jail, the alert and certbot scripts, the web app's alerts config and sendmail's argv. The addresses land
// unquoted in some of these (certbot's `EMAIL=` shell line, main.cf, jail.d), so the rule is the common
// practical subset of RFC 5321, in which no character is special to sh, postfix or fail2ban:
// - local part: letters, digits and . _ % + -, no leading, trailing or doubled dot (dot-atom), at most 64
//   characters (RFC 5321 4.5.3.1.1); no quoted local parts, comments or display names;
// - domain: DNS labels (letters, digits, inner hyphens, 1-63 characters), at least two, the last a 2-63
//   letter top-level domain; no address literals ([192.0.2.1]);
// - at most 254 characters in all (RFC 5321 4.5.3.1.3, a 256-octet path less its angle brackets).

export const EMAIL_ADDRESS =
  /^(?=.{1,254}$)(?=[^@]{1,64}@)[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/;

/** What the rule accepts, for error messages. */
export const EMAIL_ADDRESS_HINT = "a plain e-mail address like alerts@example.com";

export function isEmailAddress(value: string): boolean {
  return EMAIL_ADDRESS.test(value);
}
