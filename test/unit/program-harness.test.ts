// The program harness must be able to fail: an error diagnostic the program logs (on `pulumi up` it fails
// the update) fails the test that settles, here with the CRL signing that cannot read its CA.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { stackCrl } from "../../infra/crl";
import { installMocks, settle, value } from "./program-harness";

test("settle() fails the test when the program logs an error diagnostic (a CRL it cannot sign)", async () => {
  installMocks();
  const crl = stackCrl({
    ca: { certPem: pulumi.output("not a certificate"), keyPem: pulumi.secret("not a key") },
    revoked: [{ id: "pi1", certPem: "not a certificate either" }],
  });
  assert.equal(await value(crl), undefined);
  await assert.rejects(settle(), /logged error diagnostics[\s\S]*revokedDevices: cannot sign the CRL/);
});
