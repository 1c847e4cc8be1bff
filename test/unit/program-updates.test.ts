// What a second `pulumi up` does after a routine change: the stack is evaluated twice under mocks and the engine's
// replace-or-update rule (program-replacement.ts, from the providers' registered replaceOnChanges) decides each
// resource's step. A device install whose delete uninstalls the board must only ever be updated in place.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { deployCloud, type Recorded, TEST_SSH_KEY } from "./program-harness";
import { type PlannedStep, planSteps } from "./program-replacement";

const pi = (id: string, safeState: "on" | "off" = "off") => ({
  id,
  host: `${id}.lan`,
  board: "raspberrypi",
  outputs: [{ name: "led", safeState, backend: { type: "gpiod", line: "GPIO17" } }],
});

const base = {
  adminCidrs: '["198.51.100.7/32"]',
  deviceSshPrivateKey: TEST_SSH_KEY,
  devices: JSON.stringify([pi("pi1"), pi("pi2")]),
};

interface Evaluation {
  raw?: Record<string, unknown>;
  deviceBundle?: string;
  webBundle?: string;
}

/**
 * One evaluation of the stack "iot" in fresh mocks: what the engine would be sent. `previous` is the state of the
 * run before: keys and certificates whose inputs and replacementTrigger did not change keep their values.
 */
async function evaluate(e: Evaluation = {}, previous?: readonly Recorded[]): Promise<Recorded[]> {
  const { h } = await deployCloud(
    { ...base, ...e.raw },
    {
      world: previous ? { previous } : {},
      webBundle: e.webBundle ?? "console.log('web v1');\n",
      deviceBundle: e.deviceBundle ?? "console.log('device v1');\n",
    },
  );
  return h.resources;
}

const stepOf = (steps: PlannedStep[], name: string) => {
  const s = steps.find((x) => x.name === name);
  assert.ok(s, `no step for ${name}: ${steps.map((x) => x.name).join(", ")}`);
  return s;
};
const replaced = (steps: PlannedStep[]) =>
  steps.filter((s) => s.op === "replace").map((s) => `${s.name} (${s.replaceBecause.join(", ")})`);
const installOf = (rs: Recorded[], id: string) => rs.find((r) => r.name === `iot-device-${id}-install`);

describe("updates never tear a board down", () => {
  let first: Recorded[];
  test("evaluates the base stack", async () => {
    first = await evaluate();
    assert.ok(installOf(first, "pi1") && installOf(first, "pi2"));
  });

  test("the double knows the provider's rule: a changed trigger of a remote command replaces it", () => {
    const install = installOf(first, "pi1");
    assert.ok(install);
    assert.deepEqual(install.options.replaceOnChanges, ["triggers[*]"], "@pulumi/command's registration option");
    const withTrigger = (t: string): Recorded => ({ ...install, inputs: { ...install.inputs, triggers: [t] } });
    const [s] = planSteps([withTrigger("a")], [withTrigger("b")]);
    assert.equal(s?.op, "replace");
    assert.deepEqual(s?.replaceBecause, ["triggers[*]", "triggers"]);
    assert.equal(s?.deleteBeforeReplace, true, "a replaced install would uninstall the board first");
  });

  test("a change to one device's content updates only that device's install in place: same replacement-relevant inputs, different install input", async () => {
    const second = await evaluate({ raw: { devices: JSON.stringify([pi("pi1", "on"), pi("pi2")]) } }, first);
    const steps = planSteps(first, second);
    assert.deepEqual(replaced(steps), [], "nothing is replaced");
    const before = installOf(first, "pi1");
    const after = installOf(second, "pi1");
    assert.ok(before && after);
    for (const p of after.options.replaceOnChanges) assert.equal(p, "triggers[*]");
    assert.deepEqual(after.inputs.triggers, before.inputs.triggers, "the replacement-relevant inputs are the same");
    assert.notEqual(after.inputs.stdin, before.inputs.stdin, "the install input differs (the new config)");
    assert.match(after.inputs.stdin, /^=file config\.json$/m);
    const pi1 = stepOf(steps, "iot-device-pi1-install");
    assert.equal(pi1.op, "update");
    assert.ok(pi1.changed.includes("stdin"), pi1.changed.join());
    assert.equal(stepOf(steps, "iot-device-pi2-install").op, "same", "the other board is left alone");
  });

  test("a certificate rotation and a new device bundle update every install and the push in place", async () => {
    const second = await evaluate(
      {
        raw: { certRotation: "2026-12" },
        deviceBundle: "console.log('device v2');\n",
        webBundle: "console.log('web v2');\n",
      },
      first,
    );
    const steps = planSteps(first, second);
    const commands = steps.filter((s) => s.type === "command:remote:Command");
    assert.deepEqual(
      commands.map((s) => [s.name, s.op]),
      [
        ["iot-push", "update"],
        ["iot-device-pi1-install", "update"],
        ["iot-device-pi2-install", "update"],
      ],
    );
    assert.deepEqual(
      replaced(steps).filter((s) => s.startsWith("iot-device") || s.startsWith("iot-push")),
      [],
    );
  });

  test("removing a device deletes (uninstalls) that board's install only", async () => {
    const second = await evaluate({ raw: { devices: JSON.stringify([pi("pi1")]) } }, first);
    const steps = planSteps(first, second);
    assert.equal(stepOf(steps, "iot-device-pi2-install").op, "delete");
    assert.equal(stepOf(steps, "iot-device-pi1-install").op, "same");
    assert.deepEqual(replaced(steps), []);
  });
});
