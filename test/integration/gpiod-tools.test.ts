import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { CONSUMER, gpiomonArgs, gpiosetArgs } from "../../device/backends/gpiod";
import { installFakeLibgpiod2 } from "../fakes/gpiod";

// Holds the libgpiod 2.2 double (test/fakes/libgpiod2.mjs) against Debian 13's real gpioinfo/gpioset/gpiomon
// (gpiod 2.2.1, fetched and unpacked by scripts/fetch-libgpiod2.sh, run through trixie's own loader).
// This machine has no GPIO chip, so both run with none: every case below ends in option parsing, line
// lookup or chip lookup, and stdout, stderr (tool path made neutral) and exit status must agree exactly.
// The command lines the backend builds are among the cases, so a 2.x option it gets wrong fails here.

const V2 = { major: 2, version: "2.2.1" } as const;
const LOC = { chip: "gpiochip0", offset: 17 };

let realBin = "";
const work = mkdtempSync(join(tmpdir(), "diy-gpiod-tools-"));
const fake = installFakeLibgpiod2(work, []);
after(() => rmSync(work, { recursive: true, force: true }));

before(() => {
  const r = spawnSync("bash", [resolve(__dirname, "../../scripts/fetch-libgpiod2.sh")], { encoding: "utf8" });
  assert.equal(r.status, 0, `scripts/fetch-libgpiod2.sh failed:\n${r.stdout}\n${r.stderr}`);
  realBin = r.stdout.trim().split("\n").pop() ?? "";
});

function run(bin: string, tool: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(join(bin, tool), args, { encoding: "utf8", timeout: 20_000 });
  const neutral = (s: string) => s.split(join(bin, tool)).join(`<${tool}>`);
  return { status: r.status, stdout: neutral(r.stdout), stderr: neutral(r.stderr) };
}

const CASES: [tool: string, args: string[], what: string][] = [
  ["gpioset", ["--version"], "version banner"],
  ["gpioset", gpiosetArgs(V2, LOC, { line: "GPIO17" }, true), "the backend's gpioset"],
  [
    "gpioset",
    gpiosetArgs(V2, LOC, { line: "GPIO17", activeLow: true, bias: "disable" }, false),
    "the backend's gpioset, active-low, bias disabled",
  ],
  ["gpioset", ["-i", "GPIO17=1"], "no interactive mode in Debian's build"],
  ["gpioset", ["--interactive", "GPIO17=1"], "no --interactive either"],
  ["gpioset", ["--bias=disable", "GPIO17=1"], "1.6's bias word"],
  ["gpioset", ["--mode=signal", "gpiochip0", "17=1"], "1.6's --mode"],
  ["gpioset", ["--b", "GPIO17=1"], "ambiguous prefix"],
  ["gpioset", ["--b=x", "GPIO17=1"], "ambiguous prefix with a value"],
  ["gpioset", ["--act", "--banner", "GPIO17=1"], "unique prefix"],
  ["gpioset", ["--banner=1", "GPIO17=1"], "argument to a flag"],
  ["gpioset", ["-c"], "missing short argument"],
  ["gpioset", ["--chip"], "missing long argument"],
  ["gpioset", [], "no line"],
  ["gpioset", ["GPIO17"], "no value"],
  ["gpioset", ["GPIO17=2"], "bad value"],
  ["gpioset", ["GPIO17=on"], "a name on no chip"],
  ["gpioset", ["-d", "weird", "GPIO17=1"], "bad drive"],
  ["gpioset", ["-p", "10x", "GPIO17=1"], "bad period"],
  ["gpiomon", ["--version"], "version banner"],
  ["gpiomon", gpiomonArgs(V2, LOC, { line: "GPIO27", activeLow: true, bias: "pull-up" }), "the backend's gpiomon"],
  ["gpiomon", ["--line-buffered", "--format=%e", "gpiochip0", "27"], "1.6's gpiomon options"],
  ["gpiomon", ["-i", "5", "GPIO27"], "--idle-timeout has no short form"],
  ["gpiomon", ["-e", "up", "GPIO27"], "bad edges"],
  ["gpiomon", ["-E", "tai", "GPIO27"], "bad clock"],
  ["gpiomon", ["-n", "x", "GPIO27"], "bad number"],
  ["gpiomon", ["-b", "disable", "GPIO27"], "1.6's bias word"],
  ["gpiomon", [], "no line"],
  ["gpiomon", ["GPIO27"], "a name on no chip"],
  ["gpioinfo", ["--version"], "version banner"],
  ["gpioinfo", ["GPIO17"], "a name on no chip"],
  ["gpioinfo", ["GPIO17", "GPIO27"], "two names on no chip"],
  ["gpioinfo", ["-c", "gpiochip0"], "no such chip"],
  ["gpioinfo", [], "no chips at all"],
  ["gpioinfo", ["--bogus"], "unknown option"],
];

describe("libgpiod 2.2 double against Debian 13's tools", () => {
  for (const [tool, args, what] of CASES) {
    it(`${tool} ${args.join(" ")} (${what})`, () => {
      const real = run(realBin, tool, args);
      const double = run(fake.bin, tool, args);
      assert.deepEqual(double, real);
    });
  }

  it("the backend's 1.6 command lines pass Debian 12's real gpiod 1.6 option parsing", () => {
    // gpiod 1.6.3 is installed here (scripts/setup.sh test); with no chip it fails only at the line request.
    const V1 = { major: 1, version: "1.6.3" } as const;
    const opts = { line: "GPIO17", activeLow: true, bias: "disable" } as const;
    const set = spawnSync("gpioset", gpiosetArgs(V1, LOC, opts, true), { encoding: "utf8" });
    assert.equal(set.stderr, "gpioset: error setting the GPIO line values: No such file or directory\n");
    const mon = spawnSync("gpiomon", gpiomonArgs(V1, LOC, opts), { encoding: "utf8", timeout: 20_000 });
    assert.equal(mon.stderr, "gpiomon: error waiting for events: No such file or directory\n");
    // What the 1.6 doubles in test/unit/device-backends.test.ts print for --version.
    assert.equal(
      spawnSync("gpioset", ["--version"], { encoding: "utf8" }).stdout.split("\n")[0],
      "gpioset (libgpiod) v1.6.3",
    );
    // The 2.x lines are refused by 1.6: the version decides which the backend builds.
    const two = spawnSync("gpioset", gpiosetArgs(V2, LOC, opts, true), { encoding: "utf8" });
    assert.match(two.stderr, /^gpioset: unrecognized option '--banner'/);
  });

  it("the backend's consumer name and options are accepted up to the chip lookup", () => {
    const r = run(realBin, "gpioset", gpiosetArgs(V2, LOC, { line: "GPIO17", bias: "pull-down" }, true));
    assert.equal(r.status, 1);
    assert.equal(r.stderr, "<gpioset>: cannot find GPIO chip character device 'gpiochip0'\n");
    assert.ok(gpiosetArgs(V2, LOC, { line: "GPIO17" }, true).includes(CONSUMER));
  });
});
