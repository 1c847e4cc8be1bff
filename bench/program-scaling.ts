// Program scaling: time to evaluate the Pulumi program (DeviceCloud) under mocks with 1, 10, 100 and
// 500 devices, each size in a fresh process. Baseline in the same run: the same number of resources
// registered as bare CustomResources under the same mocks (Pulumi's own per-resource cost). Beside the timings: the
// state the stack would keep, as the bytes of every resource's inputs serialized for the engine, and its growth per
// device (issue 12: at most 20 KiB; test/unit/program-state-size.test.ts asserts the bound).
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { bundle } from "../infra/bundle";
import { DeviceCloud } from "../infra/cloud";
import { installMocks, piFleetRaw, settle, value } from "../test/unit/program-harness";
import { type Table, report } from "./lib/report";
import { settingsFrom } from "../test/support/settings";

class Bare extends pulumi.CustomResource {
  constructor(name: string, n: number) {
    super("bench:index:Bare", name, { n });
  }
}

const SIZES = (process.env.BENCH_PROGRAM_SIZES ?? "1,10,100,500").split(",").map(Number);

interface Measure {
  devices: number;
  resources: number;
  ms: number;
  baselineMs: number;
  /** Bytes of all resource inputs as sent to the engine (what the state keeps, outputs aside). */
  stateBytes: number;
}

async function child(devices: number): Promise<void> {
  // Each size runs in its own process: fresh module state for the mocks.
  const h = installMocks();
  const raw = piFleetRaw(devices);
  const settings = settingsFrom(raw);
  // The real bundles (built before the clock starts), so the state figure shows where they go.
  const webBundle = bundle("web").code;
  const deviceBundle = bundle("device").code;
  const t0 = performance.now();
  const cloud = new DeviceCloud("bench", { settings, webBundle, deviceBundle });
  await value(cloud.server.push.urn);
  await settle();
  const ms = performance.now() - t0;
  const resources = h.resources.length;
  const stateBytes = h.resources.reduce((a, r) => a + r.inputBytes, 0);

  // Baseline: as many bare resources, registered the same way.
  const base = installMocks("baseline", "bench");
  const t1 = performance.now();
  const rs = Array.from({ length: resources }, (_, i) => new Bare(`bare-${i}`, i));
  await Promise.all(rs.map((r) => value(r.urn)));
  await settle();
  const baselineMs = performance.now() - t1;
  if (base.resources.length < resources) throw new Error("baseline registered fewer resources");
  process.stdout.write(JSON.stringify({ devices, resources, ms, baselineMs, stateBytes } satisfies Measure));
}

function main(): void {
  const results: Measure[] = SIZES.map((n) => {
    const out = execFileSync(
      process.execPath,
      ["--import", "tsx", join(__dirname, "program-scaling.ts"), "--child", String(n)],
      {
        encoding: "utf8",
        maxBuffer: 1 << 20,
      },
    );
    return JSON.parse(out) as Measure;
  });
  // Least-squares slope of time over devices: linear growth means a steady ms per device.
  const xs = results.map((r) => r.devices);
  const ys = results.map((r) => r.ms);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  const slope =
    xs.reduce((a, x, i) => a + (x - mx) * ((ys[i] ?? 0) - my), 0) / xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  const ssTot = ys.reduce((a, y) => a + (y - my) ** 2, 0);
  const first = results[0];
  const last = results[results.length - 1];
  const stateSlope =
    first && last && last.devices > first.devices
      ? (last.stateBytes - first.stateBytes) / (last.devices - first.devices)
      : Number.NaN;
  const ssRes = ys.reduce((a, y, i) => a + (y - (my + slope * ((xs[i] ?? 0) - mx))) ** 2, 0);
  const table: Table = {
    title: "Program scaling: DeviceCloud evaluated under mocks",
    columns: [
      "devices",
      "resources",
      "program (ms)",
      "baseline: bare resources (ms)",
      "ratio",
      "ms per resource",
      "state inputs (KiB)",
    ],
    rows: results.map((r) => [
      r.devices,
      r.resources,
      r.ms,
      r.baselineMs,
      r.ms / r.baselineMs,
      r.ms / r.resources,
      r.stateBytes / 1024,
    ]),
    notes: [
      `slope ${slope.toFixed(2)} ms per device, linear fit R² = ${(1 - ssRes / ssTot).toFixed(3)}`,
      `state: ${(stateSlope / 1024).toFixed(1)} KiB of resource inputs per device (target <= 20 KiB); bundles are file assets`,
    ],
  };
  report("program scaling", [table]);
}

if (process.argv[2] === "--child") {
  child(Number(process.argv[3])).catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main();
}
