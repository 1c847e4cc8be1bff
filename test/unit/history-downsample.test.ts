// The history's pure arithmetic (apps/web/history/downsample.ts): properties over random readings.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  AGGREGATE_STEP_MS,
  DAY_MS,
  DEFAULT_RETENTION,
  HOUR_MS,
  MAX_CLOCK_AHEAD_MS,
  MAX_POINTS,
  MINUTE_MS,
  acceptReadingTime,
  aggregateOf,
  average,
  bucketStart,
  downsample,
  keepsRawRow,
  mergeAggregates,
  planQuery,
  retentionCutoffs,
  rollUp,
} from "../../apps/web/history/downsample";

const T0 = Date.UTC(2026, 10, 1);
const value = fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true });
const reading = fc.record({ t: fc.integer({ min: T0, max: T0 + 30 * DAY_MS }), value });
const readings = fc.array(reading, { minLength: 1, maxLength: 300 });

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

describe("downsampling", () => {
  it("puts every reading in the bucket that starts at or before it and ends after it", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 45 }), fc.integer({ min: 1, max: DAY_MS }), (t, step) => {
        const b = bucketStart(t, step);
        assert.ok(b <= t && t < b + step);
        assert.equal(b % step, 0);
      }),
    );
  });

  it("keeps count, min and max exact and the sum to rounding, however the readings are cut", () => {
    fc.assert(
      fc.property(readings, (rs) => {
        const points = downsample(rs, AGGREGATE_STEP_MS);
        assert.equal(
          points.reduce((n, p) => n + p.count, 0),
          rs.length,
        );
        for (const p of points) {
          const inside = rs.filter((r) => bucketStart(r.t, AGGREGATE_STEP_MS) === p.t).map((r) => r.value);
          assert.equal(p.count, inside.length);
          assert.equal(p.min, Math.min(...inside));
          assert.equal(p.max, Math.max(...inside));
          assert.ok(p.min <= average(p) + 1e-9 && average(p) <= p.max + 1e-9 * Math.abs(p.max) + 1e-9);
        }
        for (let i = 1; i < points.length; i++) assert.ok((points[i]?.t ?? 0) > (points[i - 1]?.t ?? 0));
      }),
    );
  });

  it("merging the aggregates of two batches equals aggregating both at once (what the upsert relies on)", () => {
    fc.assert(
      fc.property(fc.array(value, { minLength: 1 }), fc.array(value, { minLength: 1 }), (a, b) => {
        const merged = mergeAggregates(aggregateOf(a), aggregateOf(b));
        const whole = aggregateOf([...a, ...b]);
        assert.equal(merged.min, whole.min);
        assert.equal(merged.max, whole.max);
        assert.equal(merged.count, whole.count);
        assert.ok(close(merged.sum, whole.sum) || Math.abs(merged.sum - whole.sum) < 1e-3);
        // Order does not matter either.
        assert.deepEqual(mergeAggregates(aggregateOf(b), aggregateOf(a)).count, merged.count);
      }),
    );
  });

  it("rolling 5-minute aggregates up to hours gives what downsampling the readings to hours gives", () => {
    fc.assert(
      fc.property(readings, fc.constantFrom(HOUR_MS, 6 * HOUR_MS, DAY_MS), (rs, step) => {
        const viaFine = rollUp(downsample(rs, AGGREGATE_STEP_MS), step);
        const direct = downsample(rs, step);
        assert.equal(viaFine.length, direct.length);
        viaFine.forEach((p, i) => {
          const d = direct[i];
          assert.ok(d);
          assert.equal(p.t, d.t);
          assert.equal(p.count, d.count);
          assert.equal(p.min, d.min);
          assert.equal(p.max, d.max);
          assert.ok(Math.abs(p.sum - d.sum) <= 1e-6 * Math.max(1, Math.abs(d.sum)));
        });
      }),
    );
  });

  it("refuses an empty aggregate and a step that is not a positive whole number", () => {
    assert.throws(() => aggregateOf([]), /at least one value/);
    assert.throws(() => bucketStart(1, 0), /positive whole number/);
    assert.throws(() => bucketStart(1, 1.5), /positive whole number/);
  });
});

describe("the time a reading is stored at", () => {
  const now = T0 + 10 * DAY_MS;
  const oldest = retentionCutoffs(now, DEFAULT_RETENTION).raw;

  it("keeps a live reading's own time when the device's clock is close to the server's", () => {
    assert.deepEqual(acceptReadingTime({ at: now - 5000, now, lastAt: undefined, retained: false, oldest }), {
      ok: true,
      t: now - 5000,
    });
  });

  it("uses the receive time for a live reading from a board whose clock is not set (1970) or runs ahead", () => {
    for (const at of [0, now + MAX_CLOCK_AHEAD_MS + 1, now - 2 * HOUR_MS, undefined, Number.NaN])
      assert.deepEqual(acceptReadingTime({ at, now, lastAt: undefined, retained: false, oldest }), {
        ok: true,
        t: now,
      });
  });

  it("never stores a retained (replayed) reading at the receive time, and refuses it when not newer", () => {
    assert.deepEqual(acceptReadingTime({ at: now - 3 * HOUR_MS, now, lastAt: undefined, retained: true, oldest }), {
      ok: true,
      t: now - 3 * HOUR_MS,
    });
    const again = acceptReadingTime({ at: now - 3 * HOUR_MS, now, lastAt: now - 3 * HOUR_MS, retained: true, oldest });
    assert.equal(again.ok, false);
    assert.equal(acceptReadingTime({ at: now + HOUR_MS, now, lastAt: undefined, retained: true, oldest }).ok, false);
    assert.equal(acceptReadingTime({ at: oldest - 1, now, lastAt: undefined, retained: true, oldest }).ok, false);
  });

  it("accepts a series' times only strictly increasing, so no reading is counted twice", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.integer({ min: now - DAY_MS, max: now + HOUR_MS }), retained: fc.boolean() })),
        (deliveries) => {
          let lastAt: number | undefined;
          for (const d of deliveries) {
            const r = acceptReadingTime({ ...d, now, lastAt, retained: d.retained, oldest });
            if (r.ok) {
              if (lastAt !== undefined) assert.ok(r.t > lastAt);
              assert.ok(r.t <= now + MAX_CLOCK_AHEAD_MS);
              lastAt = r.t;
            }
          }
        },
      ),
    );
  });

  it("keeps at most one raw row a second per series", () => {
    assert.equal(keepsRawRow(1000, undefined), true);
    assert.equal(keepsRawRow(1999, 1000), false);
    assert.equal(keepsRawRow(2000, 1000), true);
  });
});

describe("history query planning", () => {
  const now = T0 + 400 * DAY_MS;
  const policy = DEFAULT_RETENTION;

  it("answers the last hour from raw rows and a year from the 5-minute aggregates", () => {
    const hour = planQuery({ from: now - HOUR_MS, to: now }, now, policy);
    assert.ok(hour.ok);
    assert.equal(hour.source, "raw");
    assert.ok(hour.stepMs < AGGREGATE_STEP_MS);
    const year = planQuery({ from: now - 365 * DAY_MS, to: now }, now, policy);
    assert.ok(year.ok);
    assert.equal(year.source, "aggregate");
    assert.equal(year.stepMs % AGGREGATE_STEP_MS, 0);
  });

  it("uses the aggregates for a fine step once the range reaches past the raw retention", () => {
    const p = planQuery({ from: now - 8 * DAY_MS, to: now - 7.5 * DAY_MS, stepMs: MINUTE_MS }, now, policy);
    assert.ok(p.ok);
    assert.equal(p.source, "aggregate");
    assert.equal(p.stepMs, AGGREGATE_STEP_MS);
  });

  it("never plans more than MAX_POINTS points, and says which step would do when asked for more", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 366 * DAY_MS }),
        fc.option(fc.integer({ min: 1, max: DAY_MS / 1000 }).map((s) => s * 1000)),
        (span, step) => {
          const p = planQuery({ from: now - span, to: now, ...(step === null ? {} : { stepMs: step }) }, now, policy);
          if (p.ok) {
            assert.ok(Math.ceil((p.to - p.from) / p.stepMs) + 1 <= MAX_POINTS);
            if (p.source === "aggregate") assert.equal(p.stepMs % AGGREGATE_STEP_MS, 0);
          } else {
            assert.notEqual(step, null, "a query without a step is always answerable");
            const least = Number(/at least (\d+) s/.exec(p.error)?.[1]);
            const retry = planQuery({ from: now - span, to: now, stepMs: least * 1000 }, now, policy);
            assert.ok(retry.ok, `the suggested step ${least} s works: ${p.ok ? "" : p.error}`);
          }
        },
      ),
    );
  });

  it("refuses a reversed range, a range longer than the retention, and a step under a second", () => {
    const reversed = planQuery({ from: now, to: now - 1 }, now, policy);
    assert.match(reversed.ok ? "" : reversed.error, /from must be before to/);
    const long = planQuery({ from: now - 400 * DAY_MS, to: now }, now, policy);
    assert.equal(long.ok, false);
    assert.match(long.ok ? "" : long.error, /longer than the history keeps \(365 days\)/);
    const fine = planQuery({ from: now - HOUR_MS, to: now, stepMs: 500 }, now, policy);
    assert.match(fine.ok ? "" : fine.error, /at least 1/);
  });
});
