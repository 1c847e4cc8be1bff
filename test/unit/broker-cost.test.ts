// The cost comparison in README "Two brokers" (scripts/broker-cost.ts): its arithmetic checked against AWS's own
// worked example and by hand, and the README's table is the one the module prints.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import {
  breakEvenDevices,
  costTable,
  IOT_CORE_PRICES,
  iotCoreMonthly,
  meteredPerPublish,
  messagingCost,
  microMonthly,
} from "../../scripts/broker-cost";

const close = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-6, `${what}: ${actual} is not ${expected}`);

describe("broker cost (scripts/broker-cost.ts)", () => {
  test("reproduces the worked example on AWS IoT Core's pricing page", () => {
    // 100,000 devices connected 30 days: 4,320,000,000 minutes x $0.08/1,000,000 = $345.60; 975,000,000 messages
    // x $1.00/1,000,000 = $975.00 (all within the first billion).
    close(4_320_000_000 * IOT_CORE_PRICES.connectionMinute, 345.6, "connectivity");
    close(messagingCost(975_000_000), 975, "messaging");
  });

  test("prices messages through the volume tiers: $1.00, then $0.80 past one billion, $0.70 past five", () => {
    close(messagingCost(2e9), 1000 + 800, "2 billion");
    close(messagingCost(6e9), 1000 + 4 * 800 + 700, "6 billion");
  });

  test("meters each device message four times with the web app subscribed (publish, retained, delivery, PUBACK)", () => {
    assert.equal(meteredPerPublish(1), 4);
    assert.equal(meteredPerPublish(2), 6);
  });

  test("adds up a fleet and the micro by hand", () => {
    // 10 devices and the web app connected 43,800 minutes; 10 x 43,800 x 4 messages + 30 starts x (1 list + 20 gets).
    close(
      iotCoreMonthly({ devices: 10, messagesPerMinute: 1 }),
      11 * 43_800 * 0.08e-6 + (10 * 43_800 * 4 + 30 * 21) * 1e-6,
      "10 devices",
    );
    // (instance + public IPv4) x 730 h + (10 GiB root + 2 GiB history) x $0.08.
    close(microMonthly("t3.micro"), (0.0104 + 0.005) * 730 + 12 * 0.08, "t3.micro");
    close(microMonthly("t4g.micro"), (0.0084 + 0.005) * 730 + 12 * 0.08, "t4g.micro");
  });

  test("the break-even fleet is the last size at which IoT Core still costs less than the micro", () => {
    for (const rate of [1, 0.1, 1 / 60]) {
      const n = breakEvenDevices("t3.micro", rate);
      assert.ok(n > 0);
      assert.ok(iotCoreMonthly({ devices: n, messagesPerMinute: rate }) < microMonthly("t3.micro"), `${rate}: ${n}`);
      assert.ok(iotCoreMonthly({ devices: n + 1, messagesPerMinute: rate }) >= microMonthly("t3.micro"));
    }
    // A chattier fleet crosses sooner.
    assert.ok(breakEvenDevices("t3.micro", 1) < breakEvenDevices("t3.micro", 0.1));
  });

  test("README's table is the one the module prints", () => {
    const readme = readFileSync("README.md", "utf8");
    assert.ok(readme.includes(`${costTable()}\n`), `README lacks the table:\n${costTable()}`);
  });
});
