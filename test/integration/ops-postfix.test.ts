// The rendered postfix relay run for real: a second postfix instance (own config, queue and data
// directories in a temp dir, smtpd on a free 127.0.0.1 port) relays to an SMTP sink written here
// with smtp-server. The sink offers STARTTLS (certificate from infra/render/x509.ts) and accepts
// AUTH PLAIN/LOGIN only with the rendered SASL credentials and only after TLS.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { type Socket, connect as netConnect } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { SMTPServer, type SMTPServerAddress } from "smtp-server";
import { renderPostfixMainCf, renderSaslPasswd } from "../../infra/render/postfix";
import { createCa, issueCert } from "../../infra/render/x509";
import { freePort } from "../support/ports";
import { tempDir } from "../support/temp-dir";
import { waitUntil } from "../support/wait";
import { giveToDaemon } from "../support/daemon";

interface Received {
  mailFrom: string;
  rcptTo: string[];
  user: string | undefined;
  secure: boolean;
  data: string;
}

const RELAY_USER = "relay-user@example.net";
const RELAY_PASSWORD = "app-password-123";
const SMTP_FROM = "cloud@example.net";

/** One SMTP dialogue from a chosen local address; returns every server reply. */
async function smtpDialogue(port: number, localAddress: string, lines: string[]): Promise<string[]> {
  const sock: Socket = netConnect({ host: "127.0.0.1", port, localAddress });
  const replies: string[] = [];
  let buf = "";
  const next = () =>
    new Promise<string>((resolve, reject) => {
      const onData = () => {
        // a complete reply ends with a line "NNN text" (no dash after the code)
        const m = /(?:^|\n)(\d{3}) [^\n]*\r?\n$/.exec(buf);
        if (m) {
          const reply = buf;
          buf = "";
          sock.off("data", onChunk);
          resolve(reply.trim());
        }
      };
      const onChunk = (b: Buffer) => {
        buf += b.toString();
        onData();
      };
      sock.on("data", onChunk);
      sock.once("error", reject);
      onData();
    });
  replies.push(await next());
  for (const line of lines) {
    sock.write(`${line}\r\n`);
    replies.push(await next());
  }
  sock.end();
  return replies;
}

describe("postfix relays through the configured SMTP host with the rendered SASL/TLS settings", () => {
  const tmp = tempDir("ops-postfix", { daemonsMayEnter: true });
  const conf = join(tmp.dir, "etc");
  const received: Received[] = [];
  let sink: SMTPServer;
  let smtpdPort = 0;
  let started = false;
  const authAttempts: { method: string; user: string | undefined; secure: boolean }[] = [];

  const maillog = () => {
    try {
      return readFileSync(join(tmp.dir, "maillog"), "utf8");
    } catch {
      return "(no log)";
    }
  };
  const postfix = (...args: string[]) => spawnSync("postfix", ["-c", conf, ...args], { encoding: "utf8" });

  before(async () => {
    const ca = await createCa({ commonName: "sink test CA" });
    const sinkCert = await issueCert(ca, {
      commonName: "127.0.0.1",
      kind: "server",
      ipAddresses: ["127.0.0.1"],
      dnsNames: ["localhost"],
    });
    sink = new SMTPServer({
      secure: false,
      key: sinkCert.keyPem,
      cert: sinkCert.certPem,
      authMethods: ["PLAIN", "LOGIN"],
      allowInsecureAuth: false, // AUTH only after STARTTLS, like a real provider on 587
      logger: false,
      onAuth(auth, session, cb) {
        authAttempts.push({ method: auth.method, user: auth.username, secure: session.secure });
        if (auth.username === RELAY_USER && auth.password === RELAY_PASSWORD) cb(null, { user: auth.username });
        else cb(new Error("Invalid username or password"));
      },
      onData(stream, session, cb) {
        const chunks: Buffer[] = [];
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", () => {
          const env = session.envelope;
          received.push({
            mailFrom: env.mailFrom ? (env.mailFrom as SMTPServerAddress).address : "",
            rcptTo: env.rcptTo.map((r) => r.address),
            user: session.user as string | undefined,
            secure: session.secure,
            data: Buffer.concat(chunks).toString(),
          });
          cb();
        });
      },
    });
    const sinkPort = await freePort();
    await new Promise<void>((resolve) => sink.listen(sinkPort, "127.0.0.1", resolve));

    mkdirSync(conf);
    const mainCf = renderPostfixMainCf({
      source: "ops postfix test",
      hostname: "diy-cloud.test",
      relay: { host: "127.0.0.1", port: sinkPort, user: RELAY_USER },
      smtpFrom: SMTP_FROM,
      saslPasswordMap: join(conf, "sasl_passwd"),
    });
    smtpdPort = await freePort();
    writeFileSync(join(conf, "main.cf"), mainCf);
    writeFileSync(join(conf, "sink-ca.pem"), ca.certPem);
    const master = readFileSync("/etc/postfix/master.cf", "utf8")
      .split("\n")
      .map((l) => (/^smtp\s+inet\s/.test(l) ? `127.0.0.1:${smtpdPort} inet n - n - - smtpd` : l))
      .map((l) => l.replace(/^(\S+\s+(?:unix|inet|fifo|pass|unix-dgram)\s+\S+\s+\S+\s+)y(\s)/, "$1n$2"))
      .join("\n");
    writeFileSync(join(conf, "master.cf"), master);
    const sasl = join(conf, "sasl_passwd");
    writeFileSync(
      sasl,
      renderSaslPasswd({ relay: { host: "127.0.0.1", port: sinkPort, user: RELAY_USER }, password: RELAY_PASSWORD }),
    );
    chmodSync(sasl, 0o600);
    // Only what makes this a second instance beside the system's: its own queue/data directories and
    // the test sink's CA (postconf -e edits in place; the rest of main.cf is exactly what ships).
    execFileSync("postconf", [
      "-c",
      conf,
      "-e",
      `queue_directory=${join(tmp.dir, "spool")}`,
      `data_directory=${join(tmp.dir, "data")}`,
      `smtp_tls_CAfile=${join(conf, "sink-ca.pem")}`,
      `maillog_file=${join(tmp.dir, "maillog")}`, // no syslog here: postlogd writes the log file
      `maillog_file_prefixes=${tmp.dir}`,
    ]);
    execFileSync("postmap", ["-c", conf, `hash:${sasl}`]);
    chmodSync(`${sasl}.db`, 0o600);

    mkdirSync(join(tmp.dir, "spool"));
    mkdirSync(join(tmp.dir, "data"));
    giveToDaemon(join(tmp.dir, "data"), "postfix"); // master.lock lives here
    const check = postfix("check"); // also creates the queue's subdirectories with postfix's ownership
    assert.equal(check.status, 0, `postfix check: ${check.stdout}${check.stderr}`);
    const start = postfix("start");
    assert.equal(start.status, 0, `postfix start: ${start.stdout}${start.stderr}${maillog()}`);
    started = true;
    await waitUntil(
      () => spawnSync("bash", ["-c", `exec 3<>/dev/tcp/127.0.0.1/${smtpdPort}`]).status === 0,
      () => `smtpd to listen; postfix log:\n${maillog()}`,
      { timeoutMs: 15_000, intervalMs: 100 },
    );
  });

  after(async () => {
    try {
      if (started) postfix("stop");
    } finally {
      await new Promise<void>((resolve) => sink.close(() => resolve()));
      tmp.cleanup();
    }
  });

  test("the SASL map and its .db are root-only (0600)", () => {
    assert.equal(statSync(join(conf, "sasl_passwd")).mode & 0o777, 0o600);
    assert.equal(statSync(join(conf, "sasl_passwd.db")).mode & 0o777, 0o600);
  });

  test("a mail from sendmail (what alerts use) reaches the sink over STARTTLS, authenticated, from smtpFrom", async () => {
    const msg =
      "To: me@example.org\nFrom: root@diy-cloud.test\nSubject: [diy-cloud] device pi1 is offline\n\nDevice pi1 has been offline.\n";
    const r = spawnSync("sendmail", ["-C", conf, "-i", "--", "me@example.org"], { input: msg, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    await waitUntil(
      () => received.some((m) => m.data.includes("device pi1 is offline")),
      () => `the relayed mail; postfix log:\n${maillog()}`,
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const mail = received.find((m) => m.data.includes("device pi1 is offline"));
    assert.ok(mail);
    assert.equal(mail.mailFrom, SMTP_FROM, "envelope sender rewritten to smtpFrom");
    assert.match(mail.data, new RegExp(`^From: ${SMTP_FROM}`, "m"), "header sender rewritten too");
    assert.deepEqual(mail.rcptTo, ["me@example.org"]);
    assert.equal(mail.user, RELAY_USER, "relayed with the rendered SASL credentials");
    assert.equal(mail.secure, true, "over TLS (smtp_tls_security_level = encrypt)");
    assert.ok(
      authAttempts.every((a) => a.secure),
      "credentials never sent before STARTTLS",
    );
  });

  test("a client on the loopback address may relay through smtpd", async () => {
    const replies = await smtpDialogue(smtpdPort, "127.0.0.1", [
      "EHLO app.local",
      "MAIL FROM:<web@diy-cloud.test>",
      "RCPT TO:<me@example.org>",
      "DATA",
      "Subject: loopback relay\r\n\r\nhello\r\n.",
      "QUIT",
    ]);
    assert.match(replies[3] ?? "", /^250 /, replies.join("\n"));
    assert.match(replies[5] ?? "", /^250 /, replies.join("\n"));
    await waitUntil(
      () => received.some((m) => m.data.includes("loopback relay")),
      () => `the loopback mail; postfix log:\n${maillog()}`,
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  });

  test("a relay attempt from an address outside mynetworks is refused", async () => {
    const replies = await smtpDialogue(smtpdPort, "127.0.0.2", [
      "EHLO intruder",
      "MAIL FROM:<spam@evil.example>",
      "RCPT TO:<victim@example.org>",
      "QUIT",
    ]);
    assert.match(
      replies[3] ?? "",
      /^554 5\.7\.1 <victim@example\.org>: Recipient address rejected: Access denied/,
      replies.join("\n"),
    );
    const mainCf = readFileSync(join(conf, "main.cf"), "utf8");
    assert.match(mainCf, /^inet_interfaces = loopback-only$/m, "and on the server smtpd listens on loopback only");
  });
});
