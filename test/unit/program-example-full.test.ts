// The whole program (infra/index.ts: loadSettings -> DeviceCloud -> stack outputs) under mocks with the
// full example stack file (Pulumi.example-full.yaml) plus its two secrets, as `pulumi up` would run it.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import type * as pulumi from "@pulumi/pulumi";
import { installMocks, isSecret, MOCK_IP, secretLeaks, setFullExampleConfig, settle, value } from "./program-harness";

type Program = typeof import("../../infra/index");

describe("infra/index.ts with the full example stack", () => {
  const h = installMocks("diy-device-cloud", "dev");
  let program: Program;

  before(async () => {
    setFullExampleConfig();
    // Mocks and config first, then the program: it reads both while it loads.
    program = require("../../infra/index") as Program;
    await value(program.webUrl);
    await settle();
  });

  test("exports the documented stack outputs", () => {
    for (const k of [
      "webUrl",
      "brokerEndpoint",
      "broker",
      "publicIp",
      "sshCommand",
      "caCertPem",
      "adminPrivateKey",
      "webPassword",
      "homeAssistantCertPem",
      "homeAssistantKeyPem",
    ]) {
      assert.ok(k in program, `missing output ${k}`);
    }
  });

  test("outputs point at the Elastic IP", async () => {
    assert.equal(await value(program.webUrl), `https://${MOCK_IP}`);
    assert.equal(await value(program.brokerEndpoint), `${MOCK_IP}:8883`);
    assert.equal(await value(program.broker), "mosquitto", "the example runs mosquitto on the server");
    assert.equal(await value(program.publicIp), MOCK_IP);
    assert.equal(await value(program.sshCommand), `ssh -i admin.key admin@${MOCK_IP}`);
    assert.match(await value(program.caCertPem), /BEGIN CERTIFICATE/);
  });

  test("no plain output carries a private key or secret; the key and generated password are secrets", async () => {
    for (const o of [program.webUrl, program.brokerEndpoint, program.publicIp, program.sshCommand, program.caCertPem]) {
      assert.equal(await isSecret(o), false);
      assert.deepEqual(secretLeaks(await value(o)), []);
    }
    // A plain string, not an Output: Pulumi exports it as it is, never as a secret.
    assert.equal(typeof program.broker, "string");
    assert.equal(await isSecret(program.adminPrivateKey), true);
    assert.ok(program.webPassword, "the example sets no webPassword, so one is generated and exported");
    assert.equal(await isSecret(program.webPassword as pulumi.Output<string>), true);
    // Home Assistant (on in the full example): its certificate is public, its key a secret.
    const haCert = program.homeAssistantCertPem as pulumi.Output<string>;
    assert.equal(await isSecret(haCert), false);
    assert.match(await value(haCert), /BEGIN CERTIFICATE/);
    assert.doesNotMatch(await value(haCert), /PRIVATE KEY/);
    const haKey = program.homeAssistantKeyPem as pulumi.Output<string>;
    assert.equal(await isSecret(haKey), true);
    assert.match(await value(haKey), /PRIVATE KEY/);
    assert.ok(program.bridgeLanPasswords, "the example has a bridge");
    assert.equal(await isSecret(program.bridgeLanPasswords as pulumi.Output<unknown>), true);
  });

  test("creates one client certificate for each of pi1, bbb1, bridge1, bridge1's bridge connection and Home Assistant (not for the bridge child)", () => {
    const cns = h.ofType("tls:index/certRequest:CertRequest").map((r) => r.inputs.subject.commonName);
    assert.deepEqual(cns.filter((cn) => !["server", "web"].includes(cn)).sort(), [
      "bbb1",
      "bridge1",
      "bridge1:bridge",
      "homeassistant",
      "pi1",
    ]);
  });

  test("Home Assistant's outputs are its own certificate and key (CN homeassistant), no other identity's", async () => {
    const csrs = h.ofType("tls:index/certRequest:CertRequest");
    const csr = csrs.find((r) => r.inputs.subject.commonName === "homeassistant");
    assert.ok(csr, "no CN homeassistant request");
    const cert = h
      .ofType("tls:index/locallySignedCert:LocallySignedCert")
      .find((r) => r.inputs.certRequestPem === csr.state.certRequestPem);
    assert.ok(cert, "the homeassistant request is not signed");
    assert.equal(await value(program.homeAssistantCertPem as pulumi.Output<string>), cert.state.certPem);
    const key = await value(program.homeAssistantKeyPem as pulumi.Output<string>);
    assert.equal(key, csr.inputs.privateKeyPem);
    for (const other of csrs.filter((r) => r !== csr))
      assert.notEqual(other.inputs.privateKeyPem, key, `${other.inputs.subject.commonName} shares its key`);
  });

  test("the whole graph sits under one diy:index:DeviceCloud named diy", () => {
    const comps = h.ofType("diy:index:DeviceCloud");
    assert.deepEqual(
      comps.map((c) => c.name),
      ["diy"],
    );
  });

  test("no resource input outside the push and the SSH connection contains a secret in clear", () => {
    for (const r of h.resources) {
      for (const [k, v] of Object.entries(r.inputs)) {
        if (r.secretInputs.includes(k)) continue;
        const text = JSON.stringify(v) ?? "";
        // Private keys flow into tls resources that sign with them (CertRequest, LocallySignedCert) as secrets.
        assert.deepEqual(secretLeaks(text), [], `${r.type} ${r.name}.${k} carries a secret in clear`);
      }
    }
  });
});
