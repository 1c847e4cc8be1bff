// Device revocation: the stack's CRL, signed in the program with the CA key (which never leaves the
// program's secret state; @pulumi/tls has no CRL resource). Always produced, empty when nothing is
// revoked, so removing a device from revokedDevices lets it connect again after the next push.
import * as pulumi from "@pulumi/pulumi";
import { bridgeIdentity } from "../protocol";
import type { KeyCert, Pki } from "./pki";
import { renderStableCrl } from "./render/crl";
import { type LedgerEntry, revokedSerials } from "./render/serial-ledger";
import { certSerial } from "./render/x509";

export interface StackCrlArgs {
  ca: KeyCert;
  /** The revoked identities' current certificates (stack: revokedDevices, looked up in the PKI). */
  revoked: readonly { id: string; certPem: pulumi.Input<string> }[];
  /**
   * Every serial the stack issued (infra/serial-ledger.ts): the revoked identities' earlier
   * certificates join the CRL too, so a rotation never un-revokes a stolen one.
   */
  ledger?: pulumi.Input<LedgerEntry[]>;
}

/**
 * The CRL as PEM. Reproducible (same CA + same revoked certificates → same bytes), so an unchanged
 * revocation list leaves the server push untouched. Not secret: a CRL is public data.
 */
export function stackCrl(args: StackCrlArgs): pulumi.Output<string | undefined> {
  const certs = pulumi.all(args.revoked.map((r) => pulumi.output(r.certPem)));
  const crl = pulumi
    .all([args.ca.certPem, args.ca.keyPem, certs, pulumi.output(args.ledger ?? [])])
    .apply(async ([caCertPem, caKeyPem, revokedCerts, ledger]) => {
      try {
        const current = revokedCerts.map((pem, i) => ({
          identity: args.revoked[i]?.id ?? "",
          serial: certSerial(pem),
        }));
        return await renderStableCrl({
          caCertPem,
          caKeyPem,
          revokedSerials: revokedSerials(
            args.revoked.map((r) => r.id),
            current,
            ledger,
          ),
        });
      } catch (err) {
        // @pulumi/tls always gives real PEM; only mocked certificates end here. An error diagnostic makes
        // a real `pulumi up` fail, so a revocation is never silently dropped.
        pulumi.log.error(`revokedDevices: cannot sign the CRL: ${err instanceof Error ? err.message : String(err)}`);
        return undefined;
      }
    });
  return pulumi.unsecret(crl);
}

/**
 * The revoked devices' certificates out of the PKI (config validation keeps them there): the device's
 * own and, for a bridge board, its bridge connection's, each under its identity (CN).
 */
export function revokedCerts(
  pki: Pick<Pki, "clients" | "bridges">,
  revokedDevices: readonly string[],
): StackCrlArgs["revoked"] {
  return revokedDevices.flatMap((id) => {
    const kc = pki.clients[id];
    if (!kc) throw new Error(`revokedDevices: ${id} has no certificate in this stack; keep its entry in devices`);
    const bridge = pki.bridges[id];
    return [{ id, certPem: kc.certPem }, ...(bridge ? [{ id: bridgeIdentity(id), certPem: bridge.certPem }] : [])];
  });
}
