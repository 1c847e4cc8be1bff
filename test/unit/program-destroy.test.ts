// One unreachable board must not block `pulumi destroy` (or its own removal) forever: a device's uninstall runs over
// SSH, fails after its dial budget, and fails the whole operation, every time. `retainOnDelete: true` on that device
// makes the engine forget its install command without running the delete (Pulumi's retainOnDelete option). Setting
// it must not itself need the board: the install's inputs stay the same, so the `up` that records it is a no-op there.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { parseSettings } from "../../infra/config";
import { deployCloud, type Recorded, TEST_SSH_KEY } from "./program-harness";
import { planSteps } from "./program-replacement";

const device = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  host: `${id}.lan`,
  board: "raspberrypi",
  ...extra,
});

/** One evaluation; `previous` is the state of the `up` before it (keys and certificates kept, as the engine does). */
async function evaluate(devices: unknown[], previous?: readonly Recorded[]): Promise<Recorded[]> {
  const raw = {
    adminCidrs: '["198.51.100.7/32"]',
    deviceSshPrivateKey: TEST_SSH_KEY,
    devices: JSON.stringify(devices),
  };
  const world = previous ? { previous } : {};
  const { h } = await deployCloud(raw, { world, webBundle: "x", deviceBundle: "console.log('device');\n" });
  return h.resources;
}

const install = (rs: Recorded[], id: string) => {
  const r = rs.find((x) => x.name === `iot-device-${id}-install`);
  assert.ok(r, `no install for ${id}`);
  return r;
};

test("a device marked retainOnDelete is forgotten, not uninstalled; the others still uninstall", async () => {
  const before = await evaluate([device("pi1"), device("pi2")]);
  assert.equal(install(before, "pi2").options.retainOnDelete, false, "by default removal uninstalls");
  const marked = await evaluate([device("pi1"), device("pi2", { retainOnDelete: true })], before);
  assert.equal(install(marked, "pi2").options.retainOnDelete, true);
  assert.equal(install(marked, "pi1").options.retainOnDelete, false);
  // Recording the option needs no SSH: the board's install and copy are unchanged (same, not update).
  const steps = planSteps(before, marked).filter((s) => s.name.startsWith("iot-device-pi2"));
  assert.ok(steps.length >= 2);
  for (const s of steps) assert.equal(s.op, "same", `${s.name}: ${s.op} (${s.changed.join(", ")})`);
});

test("config accepts retainOnDelete as a boolean and refuses anything else", () => {
  const raw = (v: unknown) => ({
    adminCidrs: '["198.51.100.7/32"]',
    deviceSshPrivateKey: TEST_SSH_KEY,
    devices: JSON.stringify([device("pi1", { retainOnDelete: v })]),
  });
  assert.equal(parseSettings(raw("true"), () => pulumi.secret("")).devices[0]?.retainOnDelete, true);
  assert.throws(() => parseSettings(raw("yes"), () => pulumi.secret("")), /retainOnDelete must be true or false/);
});
