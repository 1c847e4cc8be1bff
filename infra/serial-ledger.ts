// The memory of every client certificate serial the stack issued (infra/render/serial-ledger.ts says
// why and how): a local command whose stdout, kept in the state, is the ledger of the previous run,
// merged with the current certificates on every run where one of them changed.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { LEDGER_SCRIPT, type LedgerEntry, parseLedger, renderLedgerInput } from "./render/serial-ledger";
import { certNotAfter, certSerial } from "./render/x509";

/** Current certificates by identity (CN): devices, bridge connections. */
export type IssuedCerts = Record<string, pulumi.Input<string>>;

/** The entries of certificates that parse; a mocked (placeholder) certificate has nothing to record. */
export function ledgerEntries(certs: Record<string, string>): LedgerEntry[] {
  return Object.entries(certs).flatMap(([identity, pem]) => {
    try {
      return [{ identity, serial: certSerial(pem), notAfter: certNotAfter(pem) }];
    } catch {
      return [];
    }
  });
}

/**
 * Creates the ledger command; returns the ledger after this run (the previous entries and the
 * current ones). No `triggers`: a changed trigger would replace the command and forget the ledger; a
 * changed `stdin` runs `update`, which is handed the previous stdout.
 */
export function serialLedger(
  name: string,
  certs: IssuedCerts,
  opts: pulumi.CustomResourceOptions,
): pulumi.Output<LedgerEntry[]> {
  const ids = Object.keys(certs).sort();
  const stdin = pulumi
    .all(ids.map((id) => pulumi.output(certs[id] as pulumi.Input<string>)))
    .apply((pems) => renderLedgerInput(ledgerEntries(Object.fromEntries(ids.map((id, i) => [id, pems[i] ?? ""])))));
  const ledger = new command.local.Command(
    `${name}-issued-serials`,
    {
      interpreter: ["node", "-e"],
      create: LEDGER_SCRIPT,
      update: LEDGER_SCRIPT,
      stdin,
      addPreviousOutputInEnv: true,
    },
    opts,
  );
  // The current certificates as well, whatever the command printed (it never runs under test mocks).
  return pulumi.all([ledger.stdout, stdin]).apply(([out, now]) => [...parseLedger(out), ...parseLedger(now)]);
}
