import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { builtinModules } from "node:module";
import { join } from "node:path";
import { describe, it } from "node:test";
import { bundle, bundleEntryFile } from "../../infra/bundle";

const root = join(__dirname, "..", "..");

describe("device and web bundles", () => {
  it("bundles the device service into one CommonJS file that requires only node built-ins", () => {
    const b = bundle("device");
    assert.match(b.code, /^\/\* diy-device-cloud device bundle/);
    assert.deepEqual(b.assets, {});
    assert.equal(b.sha256, createHash("sha256").update(b.code).digest("hex"));
    const required = new Set([...b.code.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1] ?? ""));
    // debug and ws probe these optional packages inside try/catch and work without them.
    const optional = new Set(["supports-color", "utf-8-validate", "bufferutil"]);
    const external = [...required].filter((r) => !builtinModules.includes(r.replace(/^node:/, "")) && !optional.has(r));
    assert.deepEqual(external, [], "every dependency is inside the bundle");
    assert.doesNotMatch(b.code, new RegExp(root.replace(/[/.]/g, "\\$&")), "no build-machine paths in the code");
  });

  it("ships the web app's public files beside web.js and hashes them with the code", { skip: !existsSync(join(root, bundleEntryFile("web"))) && "apps/web not landed yet" }, () => {
    const b = bundle("web");
    const publicFiles = readdirSync(join(root, "apps", "web", "public")).sort();
    assert.deepEqual(Object.keys(b.assets), publicFiles.map((f) => `public/${f}`));
    assert.notEqual(b.sha256, createHash("sha256").update(b.code).digest("hex"), "assets are part of the hash");
  });
});
