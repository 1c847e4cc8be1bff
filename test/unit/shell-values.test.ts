// The values block of a rendered shell script (infra/render/shell-values.ts): bash must assign exactly the value,
// whatever it holds, and run nothing of it. Checked by running the rendered lines with the real bash.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import fc from "fast-check";
import { renderShellValues, shellQuoted } from "../../infra/render/shell-values";

/** What bash holds after the values block: each scalar, then each array item, NUL-separated. */
function bashReads(lines: string[], names: string[]): string[] {
  const print = names.map((n) => `printf '%s\\0' "\${${n}[@]}"`).join("\n");
  const r = spawnSync("bash", ["-c", `set -eu\n${lines.join("\n")}\n${print}\n`], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, "", "nothing in a value ran");
  return r.stdout.split("\0").slice(0, -1);
}

const ATTACKS = [
  '"; touch /tmp/diy-pwned; echo "',
  "$(touch /tmp/diy-pwned)",
  "`touch /tmp/diy-pwned`",
  "${PATH}",
  "$PATH",
  "\\",
  '\\"',
  "\\$(id)",
  "' ; id ; '",
  "!!",
  "!$",
  "a b\tc",
  "*",
  "~",
  "",
  "ünïcödé ✓",
];

describe("shell values", () => {
  it("bash assigns exactly each value and runs none of them (injection attempts)", () => {
    const values = Object.fromEntries(ATTACKS.map((v, i) => [`V${i}`, v]));
    assert.deepEqual(bashReads(renderShellValues(values), Object.keys(values)), ATTACKS);
  });

  it("bash assigns exactly any string without control characters (property, one bash for all)", () => {
    const samples = fc.sample(
      fc.string({ unit: "binary", maxLength: 40 }).filter((s) => !/\p{Cc}/u.test(s)),
      { numRuns: 400, seed: 15 },
    );
    const values = Object.fromEntries(samples.map((v, i) => [`S${i}`, v]));
    assert.deepEqual(bashReads(renderShellValues(values), Object.keys(values)), samples);
  });

  it("renders flags as 1/0, whole numbers bare and lists as arrays", () => {
    const lines = renderShellValues({ ON: true, OFF: false, N: 42, LIST: ["a b", "$(id)", ""] });
    assert.deepEqual(lines, ["readonly ON=1", "readonly OFF=0", "readonly N=42", 'readonly LIST=("a b" "\\$(id)" "")']);
    assert.deepEqual(bashReads(lines, ["ON", "OFF", "N", "LIST"]), ["1", "0", "42", "a b", "$(id)", ""]);
  });

  it("refuses control characters, odd names and numbers that are not whole, naming the value", () => {
    for (const bad of ["a\nb", "a\rb", "a\0b", "\u001b[31m"])
      assert.throws(() => renderShellValues({ X: bad }), /X must not contain control characters/);
    assert.throws(() => renderShellValues({ L: ["ok", "a\nb"] }), /L\[1\] must not contain control characters/);
    for (const name of ["lower", "1X", "A-B", "A B", "A;id"])
      assert.throws(() => renderShellValues({ [name]: "v" }), /shell value name/);
    assert.throws(() => renderShellValues({ N: 1.5 }), /N must be a whole number/);
    assert.throws(() => renderShellValues({ N: Number.NaN }), /N must be a whole number/);
    assert.equal(shellQuoted("x", 'a"b'), '"a\\"b"');
  });
});
