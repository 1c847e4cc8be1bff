// Attack suite, browser <-> web: a session cookie someone kept a copy of (a shared computer, a stolen
// backup of the browser profile) must die on logout and on a password change, whatever restarts.
// Real mosquitto, real web app restarted on the same state directory, a real device service.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ATTACK_PASSWORD, type AttackStack, startAttackStack } from "./attack-support";
import { login } from "./web-harness";

/** What a request with this cookie gets from an endpoint behind the login. */
async function devicesStatus(base: string, cookie: string): Promise<number> {
  const res = await fetch(`${base}/api/devices`, { headers: { cookie } });
  await res.body?.cancel();
  return res.status;
}

async function logout(base: string, s: { cookie: string; csrf: string }): Promise<number> {
  const res = await fetch(`${base}/api/logout`, {
    method: "POST",
    headers: { cookie: s.cookie, "x-csrf-token": s.csrf, "content-type": "application/json" },
    body: "{}",
  });
  await res.body?.cancel();
  return res.status;
}

describe("attack: a kept session cookie outlives neither logout nor a password change", () => {
  let stack: AttackStack;

  before(async () => {
    stack = await startAttackStack("attack-sessions", [{ id: "sim1" }]);
  });
  after(() => stack?.cleanup());

  it("a logged-out cookie stays refused after the web app restarts; a session not logged out survives it", async () => {
    const kept = stack.session; // never logged out
    const stolen = await login(stack.web.url, ATTACK_PASSWORD);
    assert.equal(await devicesStatus(stack.web.url, stolen.cookie), 200);
    assert.equal(await logout(stack.web.url, stolen), 200);
    assert.equal(await devicesStatus(stack.web.url, stolen.cookie), 401, "refused right after logout");

    await stack.restartWeb();
    assert.equal(
      await devicesStatus(stack.web.url, stolen.cookie),
      401,
      "a logged-out cookie works again after a restart",
    );
    assert.equal(await devicesStatus(stack.web.url, kept.cookie), 200, "a live session ends on restart");
    assert.equal((await stack.command("sim1", "led", "on")).status, 202);

    // And a second restart: the list survives its own compaction.
    await stack.restartWeb();
    assert.equal(await devicesStatus(stack.web.url, stolen.cookie), 401, "refused after a second restart");
    assert.equal(await devicesStatus(stack.web.url, kept.cookie), 200);
  });

  it("a cookie issued before a password change is refused after it; the new password logs in", async () => {
    const before = await login(stack.web.url, ATTACK_PASSWORD);
    assert.equal(await devicesStatus(stack.web.url, before.cookie), 200);

    // `pulumi config set --secret webPassword ...; pulumi up`: a new secrets.env and a restart.
    const changed = `${ATTACK_PASSWORD}-changed`;
    await stack.restartWeb({ password: changed });
    assert.equal(await devicesStatus(stack.web.url, before.cookie), 401, "an old-password cookie still works");
    assert.equal(await devicesStatus(stack.web.url, stack.session.cookie), 401);
    await assert.rejects(login(stack.web.url, ATTACK_PASSWORD), /HTTP 401/);
    const fresh = await login(stack.web.url, changed);
    assert.equal(await devicesStatus(stack.web.url, fresh.cookie), 200);

    // Changing it back does not revive sessions logged out in between.
    assert.equal(await logout(stack.web.url, fresh), 200);
    await stack.restartWeb({ password: changed });
    assert.equal(await devicesStatus(stack.web.url, fresh.cookie), 401);
  });
});
