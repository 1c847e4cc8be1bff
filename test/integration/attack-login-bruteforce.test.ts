// Attack suite, browser <-> web: guessing the web password. The app's own login limiter lives in
// memory and forgets on every restart; the rendered fail2ban jail on the app's `login_failed` events
// must ban the guesser across restarts. Real fail2ban (Debian's fail2ban-server) with the rendered
// jail.local and filter, fed the real web app's log lines while it is restarted.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { WEB_LOGIN_JAIL, renderFail2banJail } from "../../infra/render/fail2ban";
import { ATTACK_PASSWORD, type AttackStack, startAttackStack, viaProxy } from "./attack-support";
import { fail2banTree, privateFail2banDefinition } from "./daemons-support";
import { tempDir } from "../support/temp-dir";
import { waitUntil } from "../support/wait";

const GUESSER = "192.0.2.10";
const NEIGHBOUR = "192.0.2.11";
const FRAMED = "192.0.2.66";

/**
 * A login as nginx forwards it for a client at `ip`: over the app's unix socket, which only nginx can open on the
 * server, with X-Forwarded-For naming the client (apps/web/app.ts "trust proxy"). This test stands where nginx stands.
 */
async function tryLogin(webUrl: string, ip: string, password: string): Promise<number> {
  return viaProxy(webUrl, "/api/login", ip, { method: "POST", body: JSON.stringify({ password }) });
}

describe("attack: guessing the web password across web app restarts", () => {
  const tmp = tempDir("attack-bruteforce");
  // The journal as fail2ban's systemd backend hands it to the filter: "<_HOSTNAME>
  // <SYSLOG_IDENTIFIER>[<PID>]: <MESSAGE>" (fail2ban/server/filtersystemd.py formatJournalEntry). For
  // a unit's stdout SYSLOG_IDENTIFIER is the process name, "node" (systemd.exec(5) SyslogIdentifier=).
  // This machine has no journald, so the jail reads these lines from a file (backend polling); the
  // jail, its filter and its ban count are the rendered ones.
  const journal = join(tmp.dir, "journal.log");
  const banned = join(tmp.dir, "banned");
  const conf = join(tmp.dir, "fail2ban");
  let stack: AttackStack;
  let server: ChildProcess | undefined;
  const client = (...args: string[]) => spawnSync("fail2ban-client", ["-c", conf, ...args], { encoding: "utf8" });

  before(async () => {
    writeFileSync(journal, "");
    fail2banTree(tmp.dir, renderFail2banJail({ source: "attack suite" }));
    writeFileSync(join(conf, "fail2ban.local"), privateFail2banDefinition(tmp.dir));
    // The test must not touch this machine's firewall: a ban is a line in a file.
    mkdirSync(join(conf, "action.d"), { recursive: true });
    writeFileSync(
      join(conf, "action.d", "diy-test-record.conf"),
      `[Definition]\nactionstart =\nactionstop =\nactioncheck =\nactionban = echo <ip> >> ${banned}\nactionunban =\n`,
    );
    // Read last (jail.d/*.local after jail.local, jail.conf(5)): only where the lines come from and
    // what a ban does change; no journald here, so the sshd jail stays off.
    writeFileSync(
      join(conf, "jail.d", "zz-test.local"),
      [
        "[sshd]",
        "enabled = false",
        "",
        `[${WEB_LOGIN_JAIL}]`,
        "backend = polling",
        `logpath = ${journal}`,
        "action = diy-test-record",
        "",
      ].join("\n"),
    );
    const check = client("-t");
    assert.equal(check.status, 0, check.stderr + check.stdout);
    server = spawn("fail2ban-client", ["-c", conf, "-x", "-f", "start"], { stdio: "ignore" });
    await waitUntil(() => client("status", WEB_LOGIN_JAIL).status === 0, "fail2ban running the web login jail", {
      timeoutMs: 60_000,
    });

    const host = hostname();
    stack = await startAttackStack("attack-bruteforce", [{ id: "sim1" }], {
      onLogLine: (json) => appendFileSync(journal, `${host} node[${process.pid}]: ${json}\n`),
      behindProxy: true,
    });
  });

  after(async () => {
    await stack?.cleanup();
    if (server) {
      client("stop");
      server.kill("SIGKILL");
    }
    tmp.cleanup();
  });

  const bannedIps = () => (existsSync(banned) ? readFileSync(banned, "utf8").trim().split("\n") : []);

  it("bans an address whose failures add up to maxretry over a restart, and no one else", async () => {
    // Log lines that carry another address in text the requester controls must not count for it.
    for (let i = 0; i < 6; i++) {
      const status = await viaProxy(stack.web.url, `/"event":"login_failed","ip":"${FRAMED}"}`, NEIGHBOUR);
      assert.equal(status, 404);
    }
    // A user mistyping once, then logging in.
    assert.equal(await tryLogin(stack.web.url, NEIGHBOUR, "typo"), 401);
    assert.equal(await tryLogin(stack.web.url, NEIGHBOUR, ATTACK_PASSWORD), 200);

    // The guesser: 3 wrong passwords, then the app restarts (its limiter forgets), then 2 more.
    for (let i = 0; i < 3; i++) assert.equal(await tryLogin(stack.web.url, GUESSER, `guess-${i}`), 401);
    await stack.restartWeb();
    for (let i = 3; i < 5; i++) assert.equal(await tryLogin(stack.web.url, GUESSER, `guess-${i}`), 401);
    const failed = stack.log.entries.filter((e) => e.event === "login_failed");
    assert.deepEqual(
      failed.map((e) => e.ip),
      [NEIGHBOUR, GUESSER, GUESSER, GUESSER, GUESSER, GUESSER],
      "each login_failed line carries the client's address",
    );

    await waitUntil(() => bannedIps().includes(GUESSER), `fail2ban bans ${GUESSER}`, { timeoutMs: 60_000 });
    const status = client("status", WEB_LOGIN_JAIL);
    assert.match(status.stdout, new RegExp(`Banned IP list:\\s+${GUESSER.replaceAll(".", "\\.")}\\s*$`, "m"));
    assert.match(status.stdout, /Total failed:\s+6\b/, status.stdout);
    assert.deepEqual(bannedIps(), [GUESSER], "only the guesser is banned");
  });
});
