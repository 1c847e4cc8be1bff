// The IoT Core trust anchors in the repository are Amazon's roots, byte for byte as noted: each file's SHA-256
// is the one infra/amazon-root-ca.ts and infra/trust/README.md note, and its public key hashes to the value
// Amazon Trust Services publishes for that root (www.amazontrust.com/repository), an independent check.
import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  AMAZON_ROOT_CA_1,
  AMAZON_ROOT_CA_3,
  IOT_CORE_TRUST_ANCHORS,
  iotCoreCaBundle,
  trustAnchorPem,
} from "../../infra/amazon-root-ca";

const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

describe("IoT Core trust anchors (Amazon Root CA 1 and 3)", () => {
  for (const anchor of IOT_CORE_TRUST_ANCHORS) {
    it(`${anchor.subject}: the file's SHA-256 and its public key's are the noted and the published values`, () => {
      assert.equal(sha256(readFileSync(anchor.path)), anchor.fileSha256);
      const cert = new X509Certificate(trustAnchorPem(anchor));
      const spki = cert.publicKey.export({ type: "spki", format: "der" });
      assert.equal(sha256(spki), anchor.spkiSha256);
      const cn = /CN=([^\n]+)/.exec(cert.subject)?.[1];
      assert.equal(`CN=${cn},O=Amazon,C=US`, anchor.subject);
      assert.equal(cert.subject, cert.issuer, "a root: issued by itself");
      assert.ok(cert.ca, "basicConstraints CA:TRUE");
      assert.ok(cert.verify(cert.publicKey), "self-signed with its own key");
      const readme = readFileSync(join(__dirname, "../../infra/trust/README.md"), "utf8");
      assert.ok(readme.includes(anchor.fileSha256) && readme.includes(anchor.spkiSha256), "README notes both hashes");
    });
  }

  it("the client CA file holds exactly the two roots, RSA (1) and ECC (3)", () => {
    const pems = iotCoreCaBundle().match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    assert.equal(pems.length, 2);
    const types = pems.map((p) => new X509Certificate(p).publicKey.asymmetricKeyType);
    assert.deepEqual(types, ["rsa", "ec"]);
    assert.deepEqual([AMAZON_ROOT_CA_1, AMAZON_ROOT_CA_3], [...IOT_CORE_TRUST_ANCHORS]);
  });

  it("refuses a file that is not the noted one, saying how to restore it", () => {
    const dir = mkdtempSync(join(tmpdir(), "trust-"));
    try {
      const path = join(dir, "AmazonRootCA1.pem");
      copyFileSync(AMAZON_ROOT_CA_1.path, path);
      assert.equal(trustAnchorPem({ ...AMAZON_ROOT_CA_1, path }), readFileSync(AMAZON_ROOT_CA_1.path, "utf8"));
      writeFileSync(path, `${readFileSync(path, "utf8")}\n`);
      assert.throws(() => trustAnchorPem({ ...AMAZON_ROOT_CA_1, path }), /SHA-256 .*git checkout/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
