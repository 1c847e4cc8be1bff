import assert from "node:assert/strict";
import { test } from "node:test";
import {
  renderServerFiles,
  renderServerPush,
  renderEnvFile,
  type ServerFilesInput,
} from "../../infra/render/server-files";
import { aclModel } from "../../protocol";
import { PEM, serverFilesInput } from "./server-files-fixture";

const input: ServerFilesInput = serverFilesInput({
  source: 'stack "prod"',
  acl: aclModel({ devices: [{ id: "pi1", outputs: ["led"], inputs: [] }] }),
  postfix: { relay: { host: "smtp.example.com", user: "u" }, smtpPassword: "pw-123", smtpFrom: "iot@example.com" },
});
const byPath = (files: ReturnType<typeof renderServerFiles>) => new Map(files.map((f) => [f.path, f]));

/** Where the server's daemons and the web app read their files (the paths the push installs to). */
const AGREED_PATHS = [
  "/etc/mosquitto/mosquitto.conf",
  "/etc/mosquitto/acl",
  "/etc/mosquitto/certs/ca.pem",
  "/etc/mosquitto/certs/server.pem",
  "/etc/mosquitto/certs/server.key",
  "/etc/nginx/sites-available/diy",
  "/etc/nginx/tls/server.pem",
  "/etc/nginx/tls/server.key",
  "/etc/postfix/main.cf",
  "/etc/postfix/sasl_passwd",
  "/etc/fail2ban/jail.local",
  "/etc/systemd/system/diy-web.service",
  "/opt/diy-web/web.js",
  "/etc/diy-web/config.json",
  "/etc/diy-web/ca.pem",
  "/etc/diy-web/web.pem",
  "/etc/diy-web/web.key",
  "/etc/diy-web/secrets.env",
];

test("server files put mosquitto, nginx, postfix, fail2ban and the web app at the agreed paths", () => {
  const files = byPath(renderServerFiles(input));
  for (const p of AGREED_PATHS) {
    assert.ok(files.has(p), `missing ${p}`);
  }
});

test("server files flag exactly the private keys and credentials as secret, readable only by their daemon", () => {
  const files = renderServerFiles(input);
  const secret = files.filter((f) => f.secret).map((f) => `${f.path} ${f.mode} ${f.owner}:${f.group}`);
  assert.deepEqual(secret.sort(), [
    "/etc/diy-web/secrets.env 0600 root:root",
    "/etc/diy-web/web.key 0640 root:diy-web",
    "/etc/mosquitto/certs/server.key 0640 root:mosquitto",
    "/etc/nginx/tls/server.key 0600 root:root",
    "/etc/postfix/sasl_passwd 0600 root:root",
  ]);
  for (const f of files.filter((x) => !x.secret)) {
    assert.doesNotMatch(f.content, /PRIVATE KEY|pw-123|pass-1/, `${f.path} holds a secret but is not flagged`);
  }
});

test("server files give mosquitto a CRL only when one is given, and name it in mosquitto.conf", () => {
  assert.ok(!byPath(renderServerFiles(input)).has("/etc/mosquitto/certs/crl.pem"));
  const files = byPath(renderServerFiles({ ...input, pki: { ...input.pki, crlPem: PEM("X509 CRL", "crl") } }));
  assert.ok(files.has("/etc/mosquitto/certs/crl.pem"));
  assert.match(
    files.get("/etc/mosquitto/mosquitto.conf")?.content ?? "",
    /^crlfile \/etc\/mosquitto\/certs\/crl\.pem$/m,
  );
});

test("server files use Let's Encrypt paths for nginx instead of pushing the stack's server cert when given", () => {
  const files = byPath(
    renderServerFiles({
      ...input,
      nginx: {
        serverName: "iot.example.com",
        tls: {
          certificate: "/etc/letsencrypt/live/iot.example.com/fullchain.pem",
          certificateKey: "/etc/letsencrypt/live/iot.example.com/privkey.pem",
        },
      },
    }),
  );
  assert.ok(!files.has("/etc/nginx/tls/server.key"));
  assert.match(
    files.get("/etc/nginx/sites-available/diy")?.content ?? "",
    /ssl_certificate \/etc\/letsencrypt\/live\/iot\.example\.com\/fullchain\.pem;/,
  );
});

test("server files postmap the SASL map and need the SMTP password with a relay user", () => {
  assert.equal(byPath(renderServerFiles(input)).get("/etc/postfix/sasl_passwd")?.postmap, true);
  assert.throws(
    () => renderServerFiles({ ...input, postfix: { relay: { host: "smtp.example.com", user: "u" } } }),
    /smtpPassword/,
  );
  assert.ok(!byPath(renderServerFiles({ ...input, postfix: {} })).has("/etc/postfix/sasl_passwd"));
});

test("secrets.env quotes values so systemd reads them back unchanged", () => {
  const text = renderEnvFile({ vars: { DIY_WEB_PASSWORD: 'a"b\\c$d`e' } });
  assert.match(text, /^DIY_WEB_PASSWORD="a\\"b\\\\c\\\$d\\`e"$/m);
  assert.throws(() => renderEnvFile({ vars: { DIY_WEB_PASSWORD: "a\nB=1" } }), /DIY_WEB_PASSWORD/);
});

test("server files refuse two files at one path (an extra file shadowing ours)", () => {
  assert.throws(
    () =>
      renderServerFiles({
        ...input,
        extraFiles: [{ path: "/etc/postfix/main.cf", content: "x", mode: "0644", owner: "root", group: "root" }],
      }),
    /main\.cf/,
  );
});

test("the push hash changes with any pushed byte and not otherwise", () => {
  const a = renderServerPush(input).hash;
  assert.equal(renderServerPush(input).hash, a);
  assert.notEqual(renderServerPush({ ...input, web: { ...input.web, password: "pass-2" } }).hash, a);
  assert.notEqual(renderServerPush({ ...input, pki: { ...input.pki, crlPem: PEM("X509 CRL", "c") } }).hash, a);
});
