// Attack suite, browser <-> nginx: what TLS the shipped site negotiates. Real nginx on the rendered
// site (with the fixture's ECDSA server certificate), probed by `openssl s_client` offering exactly the
// suites an attacker or an old client would pick, and by Debian's Chromium as a user's browser.
// Allowed: TLS 1.3 (OpenSSL's default suites, all AEAD) and TLS 1.2 with ECDHE + AES-GCM or
// ChaCha20-Poly1305 (Mozilla's intermediate profile without DHE). CBC suites (the Lucky13 /
// padding-oracle family) and static-RSA key exchange (no forward secrecy) must be refused.
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { type Server, createServer } from "node:http";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { chromium } from "playwright-core";
import { FIXTURES, type RenderedFixture, renderFixture } from "./daemons-fixtures";
import { type RunningNginx, startShippedNginx } from "./nginx-harness";
import { tempDir } from "../support/temp-dir";
import { run } from "../support/daemon";

const CHROMIUM = "/usr/bin/chromium";

describe("attack: nginx refuses weak TLS suites and still serves a browser", () => {
  const tmp = tempDir("attack-tls");
  let r: RenderedFixture;
  let app: Server | undefined;
  let nginx: RunningNginx | undefined;
  let caFile = "";

  /** One TLS handshake with `openssl s_client`; `negotiated` is "PROTOCOL CIPHER" or undefined when refused. */
  const handshake = (args: string[]): { negotiated?: string; output: string } => {
    const { output } = run("openssl", [
      "s_client",
      "-connect",
      `127.0.0.1:${nginx?.httpsPort}`,
      "-servername",
      "localhost",
      "-CAfile",
      caFile,
      "-verify_return_error",
      ...args,
    ]);
    const m = /^New, (TLSv1\.[23]), Cipher is (\S+)$/m.exec(output);
    return { ...(m ? { negotiated: `${m[1]} ${m[2]}` } : {}), output };
  };

  before(async () => {
    const fixture = FIXTURES[0];
    assert.ok(fixture);
    r = await renderFixture(fixture);
    caFile = join(tmp.dir, "ca.pem");
    writeFileSync(caFile, r.ca.certPem);
    app = createServer((_req, res) => res.end("app behind nginx"));
    await new Promise<void>((resolve) => app?.listen(0, "127.0.0.1", resolve));
    const addr = app.address();
    const port = typeof addr === "object" && addr ? addr.port : 0;
    nginx = await startShippedNginx(tmp.dir, r, `http://127.0.0.1:${port}`);
  });

  after(async () => {
    await nginx?.stop();
    await new Promise<void>((resolve) => (app ? app.close(() => resolve()) : resolve()));
    tmp.cleanup();
  });

  it("refuses each TLS 1.2 CBC suite, one at a time and all non-AEAD suites offered at once", () => {
    // From the repro and OpenSSL's names (openssl-ciphers(1)); the ECDSA ones match the
    // server's key, so only the cipher list can refuse them. The last offer is every TLS 1.2 suite
    // OpenSSL has that is not AES-GCM or ChaCha20 (CBC with SHA-1/SHA-2, static RSA, DHE, CCM, ARIA...).
    for (const cipher of [
      "ECDHE-ECDSA-AES128-SHA",
      "ECDHE-ECDSA-AES256-SHA",
      "ECDHE-ECDSA-AES128-SHA256",
      "ECDHE-ECDSA-AES256-SHA384",
      "ECDHE-RSA-AES128-SHA256",
      "ALL:!AESGCM:!CHACHA20:@SECLEVEL=0",
    ]) {
      const h = handshake(["-tls1_2", "-cipher", cipher]);
      assert.equal(h.negotiated, undefined, `nginx accepted ${cipher}:\n${h.output}${nginx?.log()}`);
      assert.match(h.output, /alert handshake failure|no shared cipher|Cipher is \(NONE\)/, h.output);
    }
  });

  it("accepts TLS 1.2 with ECDHE + AES-GCM and ChaCha20-Poly1305, and TLS 1.3", () => {
    for (const cipher of [
      "ECDHE-ECDSA-AES128-GCM-SHA256",
      "ECDHE-ECDSA-AES256-GCM-SHA384",
      "ECDHE-ECDSA-CHACHA20-POLY1305",
    ]) {
      const h = handshake(["-tls1_2", "-cipher", cipher]);
      assert.equal(h.negotiated, `TLSv1.2 ${cipher}`, h.output + (nginx?.log() ?? ""));
      assert.match(h.output, /Verify return code: 0 \(ok\)/);
    }
    const tls13 = handshake(["-tls1_3"]);
    assert.match(
      tls13.negotiated ?? "",
      /^TLSv1\.3 TLS_(AES_(128|256)_GCM_SHA(256|384)|CHACHA20_POLY1305_SHA256)$/,
      tls13.output,
    );
  });

  it("lists, as OpenSSL expands it, only ECDHE key exchange with AEAD ciphers for both RSA and ECDSA certificates", () => {
    // An RSA certificate (Let's Encrypt can issue one) must keep working: the list names both.
    const list = /^\s*ssl_ciphers (\S+);$/m.exec(nginx?.site ?? "")?.[1];
    assert.ok(list, "the site sets ssl_ciphers explicitly (nginx's default HIGH:!aNULL:!MD5 includes CBC)");
    const expanded = run("openssl", ["ciphers", "-v", "-tls1_2", list]);
    assert.equal(expanded.status, 0, expanded.output);
    const tls12 = expanded.output.split("\n").filter((l) => /\sTLSv1\.2\s/.test(l));
    assert.ok(tls12.length >= 2, expanded.output);
    for (const line of tls12) {
      assert.match(line, /\sKx=ECDH\s/, line);
      assert.match(line, /\sEnc=(AESGCM|CHACHA20\/POLY1305)\(/, line);
      assert.match(line, /\sMac=AEAD\b/, line);
    }
    assert.ok(
      tls12.some((l) => /\sAu=RSA\s/.test(l)),
      "an RSA certificate would have a suite",
    );
    assert.ok(
      tls12.some((l) => /\sAu=ECDSA\s/.test(l)),
      "an ECDSA certificate has a suite",
    );
  });

  it("still serves Chromium (Debian's), which negotiates TLS 1.3", async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is not installed: run bash scripts/setup.sh test`);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"],
    });
    try {
      // The fixture's CA is not in Chromium's store; the handshake and the suite are what is tested here.
      const context = await browser.newContext({ ignoreHTTPSErrors: true });
      const page = await context.newPage();
      const res = await page.goto(`https://127.0.0.1:${nginx?.httpsPort}/`);
      assert.ok(res, `no response${nginx?.log()}`);
      assert.equal(res.status(), 200);
      assert.equal(await res.text(), "app behind nginx");
      assert.equal((await res.securityDetails())?.protocol, "TLS 1.3");
    } finally {
      await browser.close();
    }
  });
});
