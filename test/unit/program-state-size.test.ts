// How much the stack's state grows per board: the inputs every resource sends to the engine (serialized as the SDK
// sends them, under mocks), with the real web and device bundles. Pulumi keeps these inputs (and outputs) in the
// state and rewrites it at every checkpoint, so megabyte bundles belong in file assets (a path and a hash in the
// state), never in a command's stdin or text.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { bundle } from "../../infra/bundle";
import { deployCloud, piFleetRaw, type Recorded } from "./program-harness";

/** The bound issue 12 sets: state bytes per device (resource inputs under mocks). */
const PER_DEVICE_LIMIT = 20 * 1024;

async function evaluate(devices: number): Promise<Recorded[]> {
  const raw = piFleetRaw(devices, {
    inputs: [{ name: "button", backend: { type: "gpiod", line: "GPIO27", bias: "pull-up" } }],
  });
  const { h } = await deployCloud(raw, { name: "size", webBundle: bundle("web").code });
  return h.resources;
}

const bytes = (rs: Recorded[]) => rs.reduce((a, r) => a + r.inputBytes, 0);

describe("state size", () => {
  test(`grows by at most ${PER_DEVICE_LIMIT / 1024} KiB of resource inputs per device, bundles included`, async () => {
    const one = await evaluate(1);
    const three = await evaluate(3);
    const perDevice = (bytes(three) - bytes(one)) / 2;
    assert.ok(perDevice > 1024, `implausibly small: ${perDevice} bytes per device`);
    assert.ok(perDevice <= PER_DEVICE_LIMIT, `${perDevice} bytes of inputs per device (limit ${PER_DEVICE_LIMIT})`);
    // Neither bundle is in any input: both travel as file assets.
    const device = bundle("device").code.slice(-200);
    const web = bundle("web").code.slice(-200);
    for (const r of three) {
      const text = JSON.stringify(r.inputs);
      assert.ok(!text.includes(device) && !text.includes(Buffer.from(device).toString("base64").slice(8, 80)), r.name);
      assert.ok(!text.includes(web) && !text.includes(Buffer.from(web).toString("base64").slice(8, 80)), r.name);
    }
    const push = three.find((r) => r.name === "size-push");
    assert.ok(push && push.inputBytes < 256 * 1024, `the push's inputs are ${push?.inputBytes} bytes`);
  });
});
