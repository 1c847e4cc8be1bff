// The stack's certificates for the VM tier, made with the same helpers the Pulumi program and the demo use.
import { createCa, type IssuedCert, issueCert, type Pem } from "../../../infra/render/x509";

export interface VmPki {
  ca: IssuedCert;
  server: IssuedCert;
  web: IssuedCert;
  devices: Map<string, IssuedCert>;
  /** A client identity of the stack CA that no device uses: the host's own MQTT probe. */
  probe: IssuedCert;
  /** A client certificate from a CA the broker does not trust. */
  rogue: Pem;
}

export async function makePki(deviceIds: readonly string[]): Promise<VmPki> {
  const ca = await createCa({ commonName: "diy-device-cloud vm-test CA" });
  // As infra/pki.ts issues it for a stack without a domain: localhost (the web app on the box) and the
  // public address, which is 127.0.0.1 from the host's side and QEMU's gateway 10.0.2.2 from the device VM.
  const server = await issueCert(ca, {
    commonName: "server",
    kind: "server",
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1", "10.0.2.2"],
  });
  const web = await issueCert(ca, { commonName: "web", kind: "client" });
  const devices = new Map<string, IssuedCert>();
  for (const id of deviceIds) devices.set(id, await issueCert(ca, { commonName: id, kind: "client" }));
  const probe = await issueCert(ca, { commonName: "vm-probe", kind: "client" });
  const otherCa = await createCa({ commonName: "not the stack CA" });
  const rogue = await issueCert(otherCa, { commonName: deviceIds[0] ?? "pi1", kind: "client" });
  return { ca, server, web, devices, probe, rogue };
}
