import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ASSET_NAMES } from "../../apps/web/assets";
import { DEBUG_OFF_NAMESPACE, bundle, debugOffUnlessAsked } from "../../infra/bundle";

const root = join(__dirname, "..", "..");

describe("device and web bundles", () => {
  it("bundles the device service into one CommonJS file that requires only node built-ins", () => {
    const b = bundle("device");
    assert.match(b.code, /^\/\* diy-device-cloud device bundle/);
    assert.equal(b.sha256, createHash("sha256").update(b.code).digest("hex"));
    const required = new Set([...b.code.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1] ?? ""));
    // debug and ws probe these optional packages inside try/catch and work without them.
    const optional = new Set(["supports-color", "utf-8-validate", "bufferutil"]);
    const external = [...required].filter((r) => !builtinModules.includes(r.replace(/^node:/, "")) && !optional.has(r));
    assert.deepEqual(external, [], "every dependency is inside the bundle");
    assert.doesNotMatch(b.code, new RegExp(root.replace(/[/.]/g, "\\$&")), "no build-machine paths in the code");
  });

  it("inlines SQLite's WebAssembly into web.js: it requires only node built-ins and reads no .wasm file", () => {
    const b = bundle("web");
    const required = new Set([...b.code.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1] ?? ""));
    // @aws-sdk/signature-v4-multi-region (the iot-core profile's SDK) names this package only inside the text
    // of its SigV4a error ("register the package by calling [require(...)]"): never a call, checked below.
    const CRT = "@aws-sdk/signature-v4-crt";
    const crtMentions = b.code.split(`require("${CRT}")`).length - 1;
    assert.equal(b.code.split(`calling [require("${CRT}");]`).length - 1, crtMentions, `${CRT} is never required`);
    const optional = new Set(["supports-color", "utf-8-validate", "bufferutil", CRT]);
    const external = [...required].filter((r) => !builtinModules.includes(r.replace(/^node:/, "")) && !optional.has(r));
    assert.deepEqual(external, []);
    assert.match(
      b.code,
      /wasmBinary:require\("node:zlib"\)\.brotliDecompressSync\(Buffer\.from\("[A-Za-z0-9+/=]{100000,}","base64"\)\)/,
    );
    assert.doesNotMatch(b.code, new RegExp(root.replace(/[/.]/g, "\\$&")), "no build-machine paths in the code");
  });

  it("inlines the web page into web.js, so the server needs that one file", () => {
    const b = bundle("web");
    assert.equal(b.sha256, createHash("sha256").update(b.code).digest("hex"));
    for (const name of ASSET_NAMES) {
      const text = readFileSync(join(root, "apps", "web", "public", name), "utf8");
      // esbuild keeps the text as a template literal: every plain line appears verbatim.
      const lines = text.split("\n").filter((l) => l.trim() && !/[`\\]|\$\{/.test(l));
      assert.ok(lines.length > 3, name);
      for (const line of lines) assert.ok(b.code.includes(line), `${name} line inlined: ${line}`);
    }
  });

  it("gives the bundles a debug() that is one function doing nothing, unless DEBUG is set at start", () => {
    const dir = mkdtempSync(join(tmpdir(), "debug-stand-in-"));
    try {
      const file = debugOffUnlessAsked(dir);
      // What mqtt-packet and express do at load: require('debug')(namespace), then call it per packet/request.
      const probe = `const d = require(${JSON.stringify(file)}); const a = d("mqtt-packet:parser"), b = d("router");
        a("parse: %s", "x"); console.log(JSON.stringify({ same: a === b, enabled: a.enabled, extended: a.extend("x") === a }));`;
      const run = (env: NodeJS.ProcessEnv) => {
        const r = spawnSync(process.execPath, ["-e", probe], { env, encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        return { seen: JSON.parse(r.stdout) as unknown, stderr: r.stderr };
      };
      const { DEBUG: _unset, ...quiet } = process.env;
      // Off: one shared no-op (no arguments gathered per call), nothing printed.
      assert.deepEqual(run(quiet), { seen: { same: true, enabled: false, extended: true }, stderr: "" });
      // Asked for: the real package, which prints the namespace's lines to stderr.
      const loud = run({ ...quiet, DEBUG: "mqtt-packet:*", DEBUG_COLORS: "0" });
      assert.deepEqual(loud.seen, { same: false, enabled: true, extended: false });
      assert.match(loud.stderr, /mqtt-packet:parser parse: x/);
      for (const entry of ["web", "device"] as const)
        assert.ok(bundle(entry).code.includes(JSON.stringify(DEBUG_OFF_NAMESPACE)), `${entry}.js has the stand-in`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
