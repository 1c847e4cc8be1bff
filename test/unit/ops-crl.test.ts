import assert from "node:assert/strict";
import { createECDH, createPrivateKey, generateKeyPairSync, verify } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { renderStableCrl, signDeterministic } from "../../infra/render/crl";
import { createCa, issueCert } from "../../infra/render/x509";
import { openssl, verifyAgainstCrl } from "../support/openssl";

function p256FromScalar(hex: string): string {
  const ecdh = createECDH("prime256v1");
  ecdh.setPrivateKey(Buffer.from(hex, "hex"));
  const pub = ecdh.getPublicKey();
  const key = createPrivateKey({
    key: {
      kty: "EC",
      crv: "P-256",
      d: Buffer.from(hex, "hex").toString("base64url"),
      x: pub.subarray(1, 33).toString("base64url"),
      y: pub.subarray(33).toString("base64url"),
    },
    format: "jwk",
  });
  return key.export({ type: "pkcs8", format: "pem" }).toString();
}

test("deterministic ECDSA matches the RFC 6979 P-256/SHA-256 test vector for 'sample'", () => {
  const key = p256FromScalar("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721");
  const sig = signDeterministic(key, Buffer.from("sample"));
  assert.equal(sig.subarray(0, 32).toString("hex"), "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716");
  assert.equal(sig.subarray(32).toString("hex"), "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8");
});

test("deterministic signatures verify with Node's ECDSA for any key and message", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (msg) => {
      const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const pem = privateKey.export({ type: "sec1", format: "pem" }).toString();
      const sig = signDeterministic(pem, msg);
      assert.ok(verify("sha256", msg, { key: publicKey, dsaEncoding: "ieee-p1363" }, sig));
      assert.deepEqual(signDeterministic(pem, msg), sig);
    }),
    { numRuns: 25 },
  );
});

test("the stack CRL is byte-identical for the same CA and serials (order and case do not matter)", async () => {
  const ca = await createCa({ commonName: "crl test CA" });
  const a = await issueCert(ca, { commonName: "pi1", kind: "client" });
  const b = await issueCert(ca, { commonName: "pi2", kind: "client" });
  const one = await renderStableCrl({
    caCertPem: ca.certPem,
    caKeyPem: ca.keyPem,
    revokedSerials: [a.serial, b.serial],
  });
  const two = await renderStableCrl({
    caCertPem: ca.certPem,
    caKeyPem: ca.keyPem,
    revokedSerials: [b.serial.toUpperCase(), a.serial],
  });
  assert.equal(one, two);
  assert.match(one, /^-----BEGIN X509 CRL-----\n[\s\S]+\n-----END X509 CRL-----\n$/);
  const empty = await renderStableCrl({ caCertPem: ca.certPem, caKeyPem: ca.keyPem, revokedSerials: [] });
  assert.notEqual(empty, one);

  // OpenSSL reads it, checks the CA's signature, sees both serials, and it lasts as long as the CA
  const dir = mkdtempSync(join(tmpdir(), "ops-crl-"));
  try {
    writeFileSync(join(dir, "crl.pem"), one);
    writeFileSync(join(dir, "ca.pem"), ca.certPem);
    writeFileSync(join(dir, "a.pem"), a.certPem);
    const text = openssl(["crl", "-in", join(dir, "crl.pem"), "-CAfile", join(dir, "ca.pem"), "-noout", "-text"]);
    assert.match(text, new RegExp(a.serial, "i"));
    assert.match(text, new RegExp(b.serial, "i"));
    const caEnd = openssl(["x509", "-in", join(dir, "ca.pem"), "-noout", "-enddate"])
      .split("=")[1]
      ?.trim();
    assert.match(text, new RegExp(`Next Update: ${caEnd}`));
    const r = verifyAgainstCrl({ ca: join(dir, "ca.pem"), crl: join(dir, "crl.pem"), cert: join(dir, "a.pem") }).output;
    assert.match(r, /certificate revoked/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("refuses a serial that is not hex", async () => {
  const ca = await createCa({ commonName: "crl test CA" });
  await assert.rejects(
    renderStableCrl({ caCertPem: ca.certPem, caKeyPem: ca.keyPem, revokedSerials: ["pi1"] }),
    /must be hex/,
  );
});
