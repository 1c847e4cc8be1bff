// The stack's memory of every client certificate serial it ever issued, so that revoking a device
// refuses all of its certificates, not only the current one: a certRotation (or an early renewal)
// re-issues the device's certificate, and a CRL naming only the new serial would let the stolen old
// one back in until it expires.
//
// @pulumi/tls keeps no history: a re-issued certificate replaces the old one in the state. The memory
// is a local command (infra/serial-ledger.ts) whose stdout Pulumi keeps in the state and hands back to
// the next run: the command provider sets PULUMI_COMMAND_STDOUT to the previous stdout when it runs
// `update` (pulumi-command provider/pkg/provider/local/commandOutputs.go, addPreviousOutputInEnv,
// default true), and runs `update` whenever an input such as `stdin` changed. The script below merges
// that previous ledger with the current certificates (stdin) and prints the result. It runs under
// `node -e` (the interpreter every Pulumi TypeScript program already has, on Windows too).

/** One issued certificate: the identity (CN) it was issued to, its serial, and when it expires. */
export interface LedgerEntry {
  identity: string;
  /** Lowercase hex, as in a CRL entry. */
  serial: string;
  /** ISO 8601; an expired certificate is refused by TLS anyway and leaves the ledger. */
  notAfter: string;
}

const LINE = /^([a-z0-9][a-z0-9:-]{0,62}) ([0-9a-f]{1,40}) (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z)$/;

/** The command's stdin: one `identity serial notAfter` line per current certificate, sorted. */
export function renderLedgerInput(entries: readonly LedgerEntry[]): string {
  const lines = entries.map((e) => {
    const line = `${e.identity} ${e.serial.toLowerCase()} ${new Date(e.notAfter).toISOString()}`;
    if (!LINE.test(line)) throw new Error(`serial ledger: cannot record ${JSON.stringify(e)}`);
    return line;
  });
  return `${[...new Set(lines)].sort().join("\n")}\n`;
}

/** Reads a ledger (the command's stdout) back; lines that are not entries are skipped. */
export function parseLedger(text: string | undefined): LedgerEntry[] {
  const out: LedgerEntry[] = [];
  for (const line of (text ?? "").split("\n")) {
    const m = LINE.exec(line.trim());
    if (m?.[1] && m[2] && m[3]) out.push({ identity: m[1], serial: m[2], notAfter: m[3] });
  }
  return out;
}

/**
 * `node -e` script: previous ledger (PULUMI_COMMAND_STDOUT) + current certificates (stdin), without
 * duplicates or expired entries, sorted. Self-contained: it runs outside this program.
 */
export const LEDGER_SCRIPT = [
  "// diy-device-cloud infra/render/serial-ledger.ts: every client certificate serial this stack issued",
  "const LINE = " + LINE.toString() + ";",
  "let input = '';",
  "process.stdin.setEncoding('utf8');",
  "process.stdin.on('data', (d) => { input += d; });",
  "process.stdin.on('end', () => {",
  "  const now = new Date().toISOString();",
  "  const lines = [...(process.env.PULUMI_COMMAND_STDOUT || '').split('\\n'), ...input.split('\\n')]",
  "    .map((l) => l.trim())",
  "    .filter((l) => { const m = LINE.exec(l); return m !== null && m[3] > now; });",
  "  process.stdout.write([...new Set(lines)].sort().join('\\n') + '\\n');",
  "});",
].join("\n");

/**
 * The serials a CRL must name for the revoked devices: each one's current certificates (device and,
 * for a bridge board, its bridge connection) and every one the ledger remembers for those identities.
 */
export function revokedSerials(
  revokedIdentities: readonly string[],
  current: readonly { identity: string; serial: string }[],
  ledger: readonly LedgerEntry[],
): string[] {
  const revoked = new Set(revokedIdentities);
  const serials = [...current, ...ledger].filter((e) => revoked.has(e.identity)).map((e) => e.serial.toLowerCase());
  return [...new Set(serials)].sort();
}
