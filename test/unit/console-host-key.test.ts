// The console parser against what cloud-init really prints: the key blocks come from the helper that
// cc_keys_to_console runs (/usr/lib/cloud-init/write-ssh-key-fingerprints of Debian's cloud-init package, identical
// in upstream 22.4, 24.1 and 25.1) over real host keys made with ssh-keygen, wrapped in console noise and base64 as
// GetConsoleOutput returns it (EC2 API Reference, GetConsoleOutputResult.Output: "The console output,
// base64-encoded").
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parse } from "yaml";
import {
  decodeConsoleOutput,
  hostKeysFromConsole,
  KEYS_BEGIN,
  KEYS_END,
  parseHostKeyLine,
  pinnedHostKey,
} from "../../infra/render/console-host-key";
import { renderCloudConfig } from "../../infra/render/cloud-config";
import { AFTER, api, BOOT, consoleOf, helperOutput, makeHostKeys } from "./cloud-init-console";

const read = (output: string | undefined) => hostKeysFromConsole(decodeConsoleOutput(output));

describe("host key from the EC2 console (cloud-init cc_keys_to_console)", () => {
  const keys = makeHostKeys();
  const block = helperOutput(keys);

  it("the real helper prints logger-prefixed fingerprints, then the keys block with every .pub line", () => {
    assert.match(block, /^<14>\w{3} [ \d]\d \d\d:\d\d:\d\d cloud-init: -----BEGIN SSH HOST KEY FINGERPRINTS-----$/m);
    assert.ok(block.includes(`${keys.fp.ed25519} root@ip-172-31-5-6 (ED25519)`));
    assert.ok(block.includes(`\n${KEYS_BEGIN}\n`) && block.endsWith(`${KEYS_END}\n`));
    assert.ok(block.includes(`\n${keys.pub.ed25519} root@ip-172-31-5-6\n`));
  });

  it("pins the ed25519 key (without its comment) from base64 console output with boot noise and CRLF", () => {
    const found = read(api(consoleOf(...BOOT, block, ...AFTER)));
    assert.ok(found);
    assert.deepEqual(found.rejected, []);
    assert.deepEqual(
      found.keys.map((k) => k.key),
      [keys.pub.ecdsa, keys.pub.ed25519],
      "ECDSA and ed25519 in console order; RSA is never pinned",
    );
    const pin = pinnedHostKey(found);
    assert.equal(pin?.key, keys.pub.ed25519);
    assert.equal(pin?.fingerprint, keys.fp.ed25519, "the fingerprint ssh-keygen -l prints");
  });

  it("falls back to ECDSA when ed25519 is not printed (ssh_key_console_blacklist: [ssh-ed25519])", () => {
    const found = read(api(consoleOf(...BOOT, helperOutput(keys, "ssh-ed25519"), ...AFTER)));
    assert.equal(found && pinnedHostKey(found)?.key, keys.pub.ecdsa);
  });

  it("has no answer before the block is complete: no output yet, boot only, block begun, or its start cut off", () => {
    assert.equal(read(undefined), undefined, "Output absent before the first boot output is posted");
    assert.equal(read(""), undefined);
    assert.equal(read(api(consoleOf(...BOOT))), undefined);
    const cut = block.indexOf(KEYS_END);
    assert.equal(read(api(consoleOf(...BOOT, block.slice(0, cut)))), undefined, "still being written");
    assert.equal(read(api(block.slice(block.indexOf(KEYS_BEGIN) + 10))), undefined, "64 KB tail cut the BEGIN");
    const noKeys = read(api(consoleOf(...BOOT, helperOutput(keys, "ssh-ed25519,ecdsa-sha2-nistp256"), ...AFTER)));
    assert.ok(noKeys && pinnedHostKey(noKeys) === undefined, "only RSA printed: nothing to pin");
  });

  it("takes the latest block when the console holds two first boots, and waits while the latest is unfinished", () => {
    const newer = makeHostKeys();
    const newerBlock = helperOutput(newer);
    const both = consoleOf(...BOOT, block, ...AFTER, ...BOOT, newerBlock, ...AFTER);
    assert.equal(pinnedHostKey(read(api(both)) ?? { keys: [], rejected: [] })?.key, newer.pub.ed25519);
    const unfinished = consoleOf(...BOOT, block, ...AFTER, ...BOOT, newerBlock.slice(0, newerBlock.indexOf(KEYS_END)));
    assert.equal(read(api(unfinished)), undefined, "never the older instance's keys");
  });

  it("rejects a key line changed on the way: its fingerprint is not the one printed, so ECDSA is pinned", () => {
    const b64 = keys.pub.ed25519.split(" ")[1] ?? "";
    // Flip one character of the 32-byte key body: the line still decodes to a well-formed ed25519 key.
    const i = b64.length - 5;
    const flipped = `${b64.slice(0, i)}${b64[i] === "A" ? "B" : "A"}${b64.slice(i + 1)}`;
    assert.ok(!("reason" in parseHostKeyLine(`ssh-ed25519 ${flipped}`)), "well-formed on its own");
    const found = read(api(consoleOf(...BOOT, block.replace(b64, flipped), ...AFTER)));
    assert.ok(found);
    assert.match(found.rejected[0]?.reason ?? "", /fingerprint SHA256:\S+ is not among the printed fingerprints/);
    assert.equal(pinnedHostKey(found)?.key, keys.pub.ecdsa);
  });

  it("rejects forged or garbled key lines and marker lines that are not whole lines", () => {
    const ecdsaBlob = keys.pub.ecdsa.split(" ")[1] ?? "";
    const ed = Buffer.from(keys.pub.ed25519.split(" ")[1] ?? "", "base64");
    const short = Buffer.concat([ed.subarray(0, 15), Buffer.from([0, 0, 0, 31]), ed.subarray(19, 50)]);
    const cases: [string, RegExp][] = [
      [`ssh-ed25519 ${ecdsaBlob}`, /of type "ecdsa-sha2-nistp256", not ssh-ed25519/],
      [`ssh-ed25519 ${short.toString("base64")}`, /not one string of 32 bytes/],
      [`ssh-ed25519 ${ed.toString("base64")}AAAA`, /bytes left over|cut short/],
      ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI%%%", /not '<type> <base64> \[comment\]'/],
      [`ecdsa-sha2-nistp384 ${ecdsaBlob}`, /not ecdsa-sha2-nistp384/],
    ];
    for (const [line, reason] of cases) {
      const r = parseHostKeyLine(line);
      assert.ok("reason" in r, line);
      assert.match(r.reason, reason, line);
    }
    // A kernel message breaking into the ed25519 line (two console lines) leaves no pinnable ed25519 key.
    const ed25519Line = `${keys.pub.ed25519} root@ip-172-31-5-6`;
    const broken = block.replace(
      ed25519Line,
      `${ed25519Line.slice(0, 30)}[   41.5] random: crng init done\n${ed25519Line.slice(30)}`,
    );
    const found = read(api(consoleOf(...BOOT, broken, ...AFTER)));
    assert.ok(found && found.rejected.length === 1 && pinnedHostKey(found)?.key === keys.pub.ecdsa);
    // A marker inside a kernel message opens no block.
    const fake = consoleOf(...BOOT, `[   42.0] ${KEYS_BEGIN}`, keys.pub.ed25519, `[   42.1] ${KEYS_END}`);
    assert.equal(read(api(fake)), undefined);
    assert.throws(() => decodeConsoleOutput("not base64 at all!"), /not base64/);
  });

  it("property: no single-character change of the ed25519 line is ever pinned", () => {
    const line = keys.pub.ed25519;
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
    fc.assert(
      fc.property(fc.integer({ min: 0, max: line.length - 1 }), fc.constantFrom(...alphabet), (i, c) => {
        fc.pre(line[i] !== c);
        const changed = `${line.slice(0, i)}${c}${line.slice(i + 1)}`;
        const found = read(api(consoleOf(...BOOT, block.replace(line, changed), ...AFTER)));
        if (found === undefined) return false;
        return found.keys.every((k) => k.key !== changed);
      }),
      { numRuns: 300 },
    );
  });
});

describe("our user data keeps cloud-init printing the host keys", () => {
  it("does not turn off emit_keys_to_console, blacklist a pinned type or drop ed25519 from ssh_genkeytypes", () => {
    const doc = parse(renderCloudConfig({ source: "test", hostname: "diy-dev" })) as Record<string, unknown>;
    const ssh = doc.ssh as { emit_keys_to_console?: boolean } | undefined;
    assert.notEqual(ssh?.emit_keys_to_console, false);
    assert.equal(doc.ssh_key_console_blacklist, undefined);
    assert.equal(doc.ssh_fp_console_blacklist, undefined, "the fingerprints check a key line against corruption");
    const types = doc.ssh_genkeytypes as string[] | undefined;
    assert.ok(types === undefined || types.includes("ed25519"));
    assert.equal(doc.ssh_keys, undefined, "host keys are generated on the instance, never sent in user data");
  });
});
