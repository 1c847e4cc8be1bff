import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type IssuedCert, certSerial, createCa, issueCert, renderCrl } from "../../infra/render/x509";
import { openssl, verifyAgainstCrl } from "../support/openssl";

describe("x509 local CA", () => {
  let dir: string;
  let ca: IssuedCert;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "x509-"));
    ca = await createCa({ commonName: "Test CA" });
    writeFileSync(join(dir, "ca.pem"), ca.certPem);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("makes a P-256 CA that OpenSSL reads as a CA", () => {
    const text = openssl(["x509", "-in", join(dir, "ca.pem"), "-noout", "-text"]);
    assert.match(text, /CA:TRUE/);
    assert.match(text, /prime256v1|P-256/);
    assert.match(text, /Subject: CN ?= ?Test CA/);
  });

  it("issues a server cert with DNS and IP SANs that verifies against the CA", async () => {
    const server = await issueCert(ca, {
      commonName: "cloud",
      kind: "server",
      dnsNames: ["localhost"],
      ipAddresses: ["127.0.0.1", "203.0.113.10"],
    });
    writeFileSync(join(dir, "server.pem"), server.certPem);
    assert.match(openssl(["verify", "-CAfile", join(dir, "ca.pem"), join(dir, "server.pem")]), /OK/);
    const text = openssl(["x509", "-in", join(dir, "server.pem"), "-noout", "-text"]);
    assert.match(text, /DNS:localhost/);
    assert.match(text, /IP Address:203\.0\.113\.10/);
    assert.match(text, /TLS Web Server Authentication/);
    assert.equal(certSerial(server.certPem), server.serial);
    // the key is PKCS#8 and matches the certificate
    writeFileSync(join(dir, "server.key"), server.keyPem);
    const fromKey = openssl(["pkey", "-in", join(dir, "server.key"), "-pubout"]);
    const fromCert = openssl(["x509", "-in", join(dir, "server.pem"), "-noout", "-pubkey"]);
    assert.equal(fromKey, fromCert);
  });

  it("signs a CRL that OpenSSL verifies and that names the revoked serial", async () => {
    const device = await issueCert(ca, { commonName: "pi1", kind: "client" });
    const crl = await renderCrl({ ca, revoked: [{ serial: device.serial }] });
    assert.match(crl, /^-----BEGIN X509 CRL-----/);
    writeFileSync(join(dir, "crl.pem"), crl);
    writeFileSync(join(dir, "pi1.pem"), device.certPem);
    const text = openssl(["crl", "-in", join(dir, "crl.pem"), "-CAfile", join(dir, "ca.pem"), "-noout", "-text"]);
    assert.match(text, new RegExp(`Serial Number: ${device.serial.toUpperCase()}`));
    // verification with CRL checking refuses the revoked cert
    const verify = verifyAgainstCrl({ ca: join(dir, "ca.pem"), crl: join(dir, "crl.pem"), cert: join(dir, "pi1.pem") });
    assert.notEqual(verify.status, 0, "openssl verify fails");
    assert.match(verify.output, /certificate revoked/);
  });

  it("accepts a CA key in SEC1 form, as @pulumi/tls gives it", async () => {
    const keyFile = join(dir, "ca.key");
    writeFileSync(keyFile, ca.keyPem);
    const sec1Pem = openssl(["ec", "-in", keyFile]);
    assert.match(sec1Pem, /BEGIN EC PRIVATE KEY/);
    const crl = await renderCrl({ ca: { certPem: ca.certPem, keyPem: sec1Pem }, revoked: [] });
    writeFileSync(join(dir, "empty.crl"), crl);
    const check = spawnSync(
      "openssl",
      ["crl", "-in", join(dir, "empty.crl"), "-CAfile", join(dir, "ca.pem"), "-noout"],
      { encoding: "utf8" },
    );
    assert.equal(check.status, 0, check.stderr);
    assert.match(check.stderr, /verify OK/);
  });
});
