// Device revocation: the stack's CRL, signed in the program with the CA key (which never leaves the
// program's secret state; @pulumi/tls has no CRL resource). Always produced, empty when nothing is
// revoked, so removing a device from revokedDevices lets it connect again after the next push.
import * as pulumi from "@pulumi/pulumi";
import type { KeyCert } from "./pki";
import { renderStableCrl } from "./render/crl";
import { certSerial } from "./render/x509";

export interface StackCrlArgs {
  ca: KeyCert;
  /** The revoked devices' current certificates (stack: revokedDevices, looked up in the PKI). */
  revoked: readonly { id: string; certPem: pulumi.Input<string> }[];
}

/**
 * The CRL as PEM. Reproducible (same CA + same revoked certificates → same bytes), so an unchanged
 * revocation list leaves the server push untouched. Not secret: a CRL is public data.
 */
export function stackCrl(args: StackCrlArgs): pulumi.Output<string | undefined> {
  const certs = pulumi.all(args.revoked.map((r) => pulumi.output(r.certPem)));
  const crl = pulumi
    .all([args.ca.certPem, args.ca.keyPem, certs])
    .apply(async ([caCertPem, caKeyPem, revokedCerts]) => {
      try {
        return await renderStableCrl({
          caCertPem,
          caKeyPem,
          revokedSerials: revokedCerts.map((pem) => certSerial(pem)),
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

/** The revoked devices' certificates out of the PKI's client map (config validation keeps them there). */
export function revokedCerts(
  clients: Record<string, KeyCert>,
  revokedDevices: readonly string[],
): StackCrlArgs["revoked"] {
  return revokedDevices.map((id) => {
    const kc = clients[id];
    if (!kc) throw new Error(`revokedDevices: ${id} has no certificate in this stack; keep its entry in devices`);
    return { id, certPem: kc.certPem };
  });
}
