// The @pulumi/tls double (tls-double.ts) against the real tools: what it returns must be what the provider
// returns, read by OpenSSL and ssh-keygen as they read the provider's output; and the leak scan built on
// it (secretLeaks) must find a key however it is copied, and never a public part.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { secretLeaks } from "./program-harness";
import { tlsState } from "./tls-double";

const dir = mkdtempSync(join(tmpdir(), "tls-double-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text, { mode: 0o600 });
  return p;
};
const run = (cmd: string, args: string[]) =>
  execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

async function state(type: string, name: string, inputs: Record<string, unknown>) {
  const s = await tlsState(`tls:index/${type}`, name, inputs);
  assert.ok(s, type);
  return s as Record<string, any>;
}

describe("tls double: keys in the provider's formats", () => {
  test("ECDSA P256: SEC1 privateKeyPem, PKCS#8, OpenSSH private and authorized-keys public key", async () => {
    const k = await state("privateKey:PrivateKey", "k", { algorithm: "ECDSA", ecdsaCurve: "P256" });
    assert.match(k.privateKeyPem, /^-----BEGIN EC PRIVATE KEY-----\n[\s\S]+\n-----END EC PRIVATE KEY-----\n$/);
    assert.match(k.privateKeyPemPkcs8, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.match(k.publicKeyPem, /^-----BEGIN PUBLIC KEY-----\n/);
    assert.match(
      run("openssl", ["ec", "-in", file("ec.pem", k.privateKeyPem), "-noout", "-text"]),
      /NIST CURVE: P-256/,
    );
    // ssh-keygen derives the same public key from the OpenSSH private key the double wrote.
    const pub = run("ssh-keygen", ["-y", "-f", file("ec.ssh", k.privateKeyOpenssh)]);
    assert.match(k.publicKeyOpenssh, /^ecdsa-sha2-nistp256 AAAA[A-Za-z0-9+/=]+\n$/);
    assert.equal(pub.trim(), k.publicKeyOpenssh.trim());
    const fp = run("ssh-keygen", ["-l", "-E", "sha256", "-f", file("ec.pub", k.publicKeyOpenssh)]);
    assert.ok(fp.includes(k.publicKeyFingerprintSha256), fp);
  });

  test("ED25519: PKCS#8 privateKeyPem and an OpenSSH key ssh-keygen reads", async () => {
    const k = await state("privateKey:PrivateKey", "e", { algorithm: "ED25519" });
    assert.match(k.privateKeyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.match(k.privateKeyOpenssh, /^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    assert.equal(
      run("ssh-keygen", ["-y", "-f", file("ed.ssh", k.privateKeyOpenssh)]).trim(),
      k.publicKeyOpenssh.trim(),
    );
    assert.match(k.publicKeyOpenssh, /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]+\n$/);
  });

  test("ECDSA without a curve is P224 (the provider's default) and has no OpenSSH form", async () => {
    const k = await state("privateKey:PrivateKey", "p224", { algorithm: "ECDSA" });
    assert.equal(k.ecdsaCurve, "P224");
    assert.equal(k.privateKeyOpenssh, "");
    assert.equal(k.publicKeyOpenssh, "");
    await assert.rejects(tlsState("tls:index/privateKey:PrivateKey", "x", { algorithm: "DSA" }), /algorithm must be/);
  });
});

describe("tls double: certificates OpenSSL verifies", () => {
  test("CA, CSR and locally signed certificate: chain, SANs, usages, subject from the request", async () => {
    const caKey = await state("privateKey:PrivateKey", "ca", { algorithm: "ECDSA", ecdsaCurve: "P256" });
    const ca = await state("selfSignedCert:SelfSignedCert", "ca", {
      privateKeyPem: caKey.privateKeyPem,
      isCaCertificate: true,
      subject: { commonName: "Test CA", organization: "DIY" },
      validityPeriodHours: 24,
      allowedUses: ["cert_signing", "crl_signing"],
    });
    const key = await state("privateKey:PrivateKey", "srv", { algorithm: "ECDSA", ecdsaCurve: "P256" });
    const csr = await state("certRequest:CertRequest", "srv", {
      privateKeyPem: key.privateKeyPem,
      subject: { commonName: "server", organization: "DIY", organizationalUnit: "rotation 1" },
      dnsNames: ["localhost"],
      ipAddresses: ["127.0.0.1"],
    });
    run("openssl", ["req", "-in", file("srv.csr", csr.certRequestPem), "-noout", "-verify"]); // throws unless it verifies
    const cert = await state("locallySignedCert:LocallySignedCert", "srv", {
      certRequestPem: csr.certRequestPem,
      caPrivateKeyPem: caKey.privateKeyPem,
      caCertPem: ca.certPem,
      validityPeriodHours: 48,
      allowedUses: ["digital_signature", "server_auth"],
    });
    const caFile = file("ca.pem", ca.certPem);
    const certFile = file("srv.pem", cert.certPem);
    assert.match(run("openssl", ["verify", "-CAfile", caFile, certFile]), /: OK/);
    const text = run("openssl", ["x509", "-in", certFile, "-noout", "-text"]);
    assert.match(text, /Subject: O = DIY, OU = rotation 1, CN = server/);
    assert.match(text, /DNS:localhost, IP Address:127\.0\.0\.1/);
    assert.match(text, /TLS Web Server Authentication/);
    assert.match(text, /CA:FALSE/);
    assert.match(text, /X509v3 Authority Key Identifier/);
    // The resource id is the serial in decimal, as the provider sets it.
    const serialHex = run("openssl", ["x509", "-in", certFile, "-noout", "-serial"]).trim().split("=")[1] ?? "";
    assert.equal(BigInt(`0x${serialHex}`).toString(10), cert.id);
    assert.match(run("openssl", ["x509", "-in", caFile, "-noout", "-text"]), /CA:TRUE/);
  });

  test("refuses a CA key that does not match the CA certificate, and a request of the wrong PEM type", async () => {
    const caKey = await state("privateKey:PrivateKey", "ca2", { algorithm: "ECDSA", ecdsaCurve: "P256" });
    const other = await state("privateKey:PrivateKey", "other", { algorithm: "ECDSA", ecdsaCurve: "P256" });
    const ca = await state("selfSignedCert:SelfSignedCert", "ca2", {
      privateKeyPem: caKey.privateKeyPem,
      isCaCertificate: true,
      subject: { commonName: "CA 2" },
      validityPeriodHours: 24,
      allowedUses: ["cert_signing"],
    });
    const csr = await state("certRequest:CertRequest", "c", { privateKeyPem: other.privateKeyPem, subject: {} });
    const base = { certRequestPem: csr.certRequestPem, caCertPem: ca.certPem, validityPeriodHours: 1, allowedUses: [] };
    await assert.rejects(
      tlsState("tls:index/locallySignedCert:LocallySignedCert", "bad", {
        ...base,
        caPrivateKeyPem: other.privateKeyPem,
      }),
      /doesn't match parent's PublicKey/,
    );
    await assert.rejects(
      tlsState("tls:index/locallySignedCert:LocallySignedCert", "bad", {
        ...base,
        caPrivateKeyPem: caKey.privateKeyPem,
        certRequestPem: ca.certPem,
      }),
      /expected "CERTIFICATE REQUEST"/,
    );
  });
});

describe("secretLeaks: finds generated key material however it is copied", () => {
  test("verbatim, inside JSON, re-wrapped, base64-encoded; never the public key or the certificate", async () => {
    const k = await state("privateKey:PrivateKey", "leaky", { algorithm: "ECDSA", ecdsaCurve: "P256" });
    const body = k.privateKeyPem.replace(/-----[^-]+-----|\n/g, "");
    const rewrapped = (body.match(/.{1,70}/g) ?? []).join("\n");
    const b64 = Buffer.from(`x${k.privateKeyPem}`).toString("base64");
    const b64Lines = (b64.match(/.{1,76}/g) ?? []).join("\n");
    for (const leak of [
      k.privateKeyPem,
      JSON.stringify({ a: k.privateKeyPem }),
      rewrapped,
      `put /etc/x 0600 root root ${"f".repeat(64)} <<'EOF'\n${b64Lines}\nEOF`,
      JSON.stringify({ a: k.privateKeyOpenssh.replace(/-----[^-]+-----/g, "") }),
      body,
    ]) {
      assert.ok(secretLeaks(leak).includes("leaky"), `not found in: ${leak.slice(0, 60)}...`);
    }
    const ca = await state("selfSignedCert:SelfSignedCert", "leaky", {
      privateKeyPem: k.privateKeyPem,
      subject: { commonName: "x" },
      validityPeriodHours: 1,
      allowedUses: [],
    });
    for (const pub of [k.publicKeyPem, k.publicKeyOpenssh, ca.certPem, Buffer.from(ca.certPem).toString("base64")])
      assert.deepEqual(secretLeaks(pub), []);
  });
});
