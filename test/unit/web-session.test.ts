import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { memoryLogger } from "../../apps/web/log";
import { fileRevocations } from "../../apps/web/revocations";
import {
  createSessions,
  passwordMatches,
  readCookie,
  safeEqual,
  sessionCookie,
  sessionCookieName,
} from "../../apps/web/session";

const SECRET = "s".repeat(40);
const PASSWORD = "correct horse";

describe("web sessions", () => {
  it("verifies a cookie it issued and refuses a tampered, foreign or expired one", () => {
    const sessions = createSessions({ secret: SECRET, password: PASSWORD, ttlMs: 60_000 });
    const now = 1_800_000_000_000;
    const s = sessions.issue(now);
    assert.deepEqual(sessions.verify(s.cookieValue, now + 1000), { sid: s.sid, expires: s.expires });
    const [sid, exp, mac] = s.cookieValue.split(".") as [string, string, string];
    assert.equal(sessions.verify(`${sid}.${Number(exp) + 3600}.${mac}`, now), undefined, "extended expiry");
    assert.equal(
      sessions.verify(`${sid.replace(/^./, sid[0] === "A" ? "B" : "A")}.${exp}.${mac}`, now),
      undefined,
      "other sid",
    );
    assert.equal(sessions.verify(s.cookieValue, now + 61_000), undefined, "expired");
    assert.equal(
      createSessions({ secret: "t".repeat(40), password: PASSWORD }).verify(s.cookieValue, now),
      undefined,
      "other secret",
    );
    for (const junk of [undefined, "", "a.b.c", "x".repeat(500), `${s.cookieValue}x`])
      assert.equal(sessions.verify(junk, now), undefined);
  });

  it("refuses a cookie after logout even though its signature is still good", () => {
    const sessions = createSessions({ secret: SECRET, password: PASSWORD });
    const s = sessions.issue();
    assert.ok(sessions.verify(s.cookieValue));
    sessions.revoke(s);
    assert.equal(sessions.verify(s.cookieValue), undefined);
  });

  it("refuses every cookie issued under the previous password once the password changed", () => {
    const before = createSessions({ secret: SECRET, password: PASSWORD });
    const s = before.issue();
    const after = createSessions({ secret: SECRET, password: "a new password" });
    assert.equal(after.verify(s.cookieValue), undefined);
    assert.ok(after.verify(after.issue().cookieValue), "a cookie issued under the new password works");
    assert.ok(
      createSessions({ secret: SECRET, password: PASSWORD }).verify(s.cookieValue),
      "same password: still good",
    );
  });

  it("keeps logouts in the revocation file across instances, drops expired and garbled lines, file mode 0600", () => {
    const dir = mkdtempSync(join(tmpdir(), "revocations-"));
    try {
      const file = join(dir, "revoked-sessions");
      const log = memoryLogger();
      const first = createSessions({ secret: SECRET, password: PASSWORD, revocations: fileRevocations(file, log) });
      const out = first.issue();
      const kept = first.issue();
      first.revoke(out);
      assert.equal((statSync(file).mode & 0o777).toString(8), "600");
      writeFileSync(file, `${readFileSync(file, "utf8")}garbage line\nAAAAAAAAAAAAAAAAAAAAAAAA 1000\n`, { flag: "w" });
      const second = createSessions({ secret: SECRET, password: PASSWORD, revocations: fileRevocations(file, log) });
      assert.equal(second.verify(out.cookieValue), undefined, "logged out before the restart");
      assert.ok(second.verify(kept.cookieValue), "another session survives the restart");
      assert.equal(readFileSync(file, "utf8"), `${out.sid} ${out.expires / 1000}\n`, "compacted at start");
      assert.deepEqual(
        log.entries.map((e) => [e.event, e.lines]),
        [["session_revocations_bad_lines", 1]],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("binds the CSRF token to the session", () => {
    const sessions = createSessions({ secret: SECRET, password: PASSWORD });
    const a = sessions.issue();
    const b = sessions.issue();
    assert.ok(sessions.checkCsrf(a.sid, a.csrfToken));
    assert.ok(!sessions.checkCsrf(a.sid, b.csrfToken), "another session's token");
    assert.ok(!sessions.checkCsrf(a.sid, undefined));
    assert.ok(!sessions.checkCsrf(a.sid, ""));
    assert.ok(!sessions.checkCsrf(a.sid, a.csrfToken.slice(1)));
    assert.notEqual(a.csrfToken, a.cookieValue.split(".")[2], "CSRF token is not the cookie's MAC");
  });

  it("compares passwords exactly, refusing empty and non-string input", () => {
    assert.ok(passwordMatches("correct horse", "correct horse"));
    for (const bad of ["correct hors", "correct horse ", "", undefined, null, 42, ["correct horse"]]) {
      assert.ok(!passwordMatches(bad, "correct horse"), String(bad));
    }
    assert.ok(safeEqual("a", "a"));
    assert.ok(!safeEqual("a", "ab"));
  });

  it("writes a Secure __Host- cookie that is HttpOnly and SameSite=Strict, and a plain one for the http demo", () => {
    const c = sessionCookie({ secure: true, value: "v", maxAgeSeconds: 60 });
    assert.match(c, /^__Host-diy_session=v; Path=\/; Max-Age=60; HttpOnly; SameSite=Strict; Secure$/);
    assert.doesNotMatch(c, /Domain=/i);
    const plain = sessionCookie({ secure: false, value: "v", maxAgeSeconds: 60 });
    assert.match(plain, /^diy_session=v;.*HttpOnly; SameSite=Strict$/);
    assert.equal(readCookie(`a=1; ${sessionCookieName(true)}=xyz; b=2`, "__Host-diy_session"), "xyz");
    assert.equal(readCookie("a=1", "__Host-diy_session"), undefined);
    assert.equal(readCookie(undefined, "x"), undefined);
  });
});
