// infra/ssh-dial.ts models pulumi-command's dial retry; the server push's settings give the budget its comment claims.
import assert from "node:assert/strict";
import { test } from "node:test";
import { dialBudget, dialWaitsMs } from "../../infra/ssh-dial";
import { PUSH_DIAL } from "../../infra/server";

test("the waits are pulumi-command's: 100 ms growing x1.5, capped at 5 s (its TestDialWithRetry numbers)", () => {
  // pulumi-command provider/pkg/provider/remote/connection_test.go, "omitted preserves default backoff and cap"
  // (in whole nanoseconds, as Go's time.Duration holds them).
  assert.deepEqual(
    dialWaitsMs(12).map((ms) => Math.floor(ms * 1e6)),
    [100e6, 150e6, 225e6, 337500e3, 506250e3, 759375e3, 1139062500, 1708593750, 2562890625, 3844335937, 5e9, 5e9],
  );
  assert.equal(dialBudget({ dialErrorLimit: 3, perDialTimeout: 1 }).attempts, 4);
});

test("the old setting (dialErrorLimit 60) gave ~4.4 minutes of refused dials, not the ~10 its comment said", () => {
  const old = dialBudget({ dialErrorLimit: 60, perDialTimeout: 10 });
  assert.ok(old.refusedSeconds > 255 && old.refusedSeconds < 270, String(old.refusedSeconds));
});

test("the push keeps dialling for at least 10 minutes of refused dials and gives up within ~32 minutes", () => {
  const b = dialBudget(PUSH_DIAL);
  assert.ok(b.refusedSeconds >= 600, `refused: ${b.refusedSeconds} s`);
  assert.ok(b.timedOutSeconds <= 32 * 60, `timed out: ${b.timedOutSeconds} s`);
});
