// A double of Debian 13's libgpiod 2.2.1 command-line tools (package gpiod 2.2.1-2+deb13u1): gpioinfo,
// gpioset and gpiomon, with a simulated kernel behind them. Run as `node libgpiod2.mjs <argv0> <args...>`
// from a per-tool wrapper (test/fakes/gpiod.ts writes them); FAKE_GPIO_DIR names the simulated chips.
//
// The rules it holds, and where they come from:
// - Option syntax, messages and exit codes: brgl/libgpiod tools/{gpioinfo,gpioset,gpiomon,tools-common}.c
//   (tag v2.2.4; the tools did not change their CLI after v2.2: NEWS lists only leak and overflow fixes),
//   parsed by glibc getopt_long with a leading "+" (stop at the first non-option; unique prefixes of long
//   options; glibc's own messages). test/integration/gpiod-tools.test.ts runs the same argv against Debian 13's
//   real binaries and this double and compares stdout, stderr and exit status.
// - Debian builds gpioset WITHOUT its interactive mode (GPIOSET_INTERACTIVE needs libedit; the package does not
//   depend on it): `gpioset -i` is "invalid option -- 'i'". gpioset therefore holds fixed values until it exits.
// - Lines are found by name over all chips in order, or by offset when -c names a chip; `gpioinfo <name>` prints
//   "<chip> <offset>\t<name>\t<attributes>", `gpioinfo` alone prints "<chip> - N lines:" and "\tline %3u:" rows.
// - The kernel (drivers/gpio/gpiolib-cdev.c) gives a line to one requester at a time: another request fails with
//   EBUSY, which the tools report as "unable to request lines on chip '<path>': Device or resource busy" (gpiomon
//   without quotes round the path). A process's lines are released when it exits, however it exits.
// - gpio-sim (Documentation/admin-guide/gpio/gpio-sim.rst): an output's level is readable (`value`); an input's
//   level follows the `pull` attribute, and a bias the requester asks for sets that pull (libgpiod's own test
//   test_gpiomon_with_pull_up relies on it). Edges are reported after active-low inversion.
//
// Simulated chips: $FAKE_GPIO_DIR/chips.json = [{ "name": "gpiochip0", "lines": ["ID_SDA", null, "GPIO17"],
// "kernel": { "9": "ACT" } }] (null = unnamed; `kernel` = lines a kernel driver holds). Per line <chip>-<offset>:
// requests/ (who holds it), pull/ ("pull-up" | "pull-down", written by tests), value/ ("0" | "1", physical level).
import {
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { basename, join } from "node:path";

const [argv0 = "gpiod", ...args] = process.argv.slice(2);
const tool = basename(argv0);
const dir = process.env.FAKE_GPIO_DIR ?? "";
const out = (s) => writeSync(1, s);
const err = (s) => writeSync(2, s);

/** die() of tools-common.c: "<argv0>: <message>" on stderr, exit status 1. */
function die(message) {
  err(`${argv0}: ${message}\n`);
  process.exit(1);
}

// ---- getopt_long (glibc), with the "+" of every tool's short option string --------------------------------

/** Returns [[key, value]...] and the operands; on a syntax error prints glibc's message and dies like the tools. */
function getopt(argv, shortopts, longopts) {
  const opts = [];
  let i = 0;
  const fail = (message) => {
    err(`${argv0}: ${message}\n`);
    die(`try ${argv0} --help`);
  };
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      i++;
      break;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = a.slice(2, eq < 0 ? undefined : eq);
      const exact = longopts.find((o) => o.name === name);
      const candidates = exact ? [exact] : longopts.filter((o) => o.name.startsWith(name));
      const keys = new Set(candidates.map((o) => o.key));
      // glibc quotes what was typed (with any "=value") when no option matches, the option's name otherwise.
      if (candidates.length === 0) fail(`unrecognized option '${a}'`);
      if (keys.size > 1) {
        fail(`option '${a}' is ambiguous; possibilities:${candidates.map((o) => ` '--${o.name}'`).join("")}`);
      }
      const o = candidates[0];
      if (!o.arg && eq >= 0) fail(`option '--${o.name}' doesn't allow an argument`);
      let value;
      if (o.arg) {
        if (eq >= 0) value = a.slice(eq + 1);
        else if (i + 1 < argv.length) value = argv[++i];
        else fail(`option '--${o.name}' requires an argument`);
      }
      opts.push([o.key, value]);
      continue;
    }
    if (a.startsWith("-") && a !== "-") {
      for (let j = 1; j < a.length; j++) {
        const c = a[j];
        const at = shortopts.indexOf(c);
        if (at < 0 || c === ":") fail(`invalid option -- '${c}'`);
        if (shortopts[at + 1] === ":") {
          let value = a.slice(j + 1);
          if (value === "") {
            if (i + 1 < argv.length) value = argv[++i];
            else fail(`option requires an argument -- '${c}'`);
          }
          opts.push([c, value]);
          break;
        }
        opts.push([c, undefined]);
      }
      continue;
    }
    break; // "+": the first operand ends the options
  }
  return { opts, rest: argv.slice(i) };
}

function printVersion() {
  out(`${tool} (libgpiod) v2.2.1\n`);
  out("Copyright (C) 2017-2023 Bartosz Golaszewski\n");
  out("License: GPL-2.0-or-later\n");
  out("This is free software: you are free to change and redistribute it.\n");
  out("There is NO WARRANTY, to the extent permitted by law.\n");
  process.exit(0);
}

function parseBias(v) {
  if (v === "pull-down" || v === "pull-up" || v === "disabled") return v;
  die(`invalid bias: ${v}`);
}

/** parse_period() of tools-common.c: milliseconds unless suffixed us, ms, s or m; returns microseconds. */
function parsePeriod(v) {
  const m = /^(\d+)(us|ms|s|m)?$/.exec(v);
  if (!m) die(`invalid period: ${v}`);
  const unit = { us: 1, ms: 1000, s: 1_000_000, m: 60_000_000 }[m[2] ?? "ms"];
  return Number(m[1]) * unit;
}

// ---- the simulated kernel ---------------------------------------------------------------------------------

function chips() {
  const file = join(dir, "chips.json");
  return existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : [];
}

const key = (chip, offset) => `${chip.name}-${offset}`;
const devPath = (chip) => `/dev/${chip.name}`;

/** chip_path_lookup(): a number, a path or a device name. */
function lookupChip(id, all) {
  const name = /^\d+$/.test(id) ? `gpiochip${id}` : id.includes("/") ? id.replace(/^\/dev\//, "") : id;
  return all.find((c) => c.name === name);
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The live request on a line, if any: released when its process is gone, as the kernel does. */
function requestOf(chip, offset) {
  const consumer = chip.kernel?.[String(offset)];
  if (consumer !== undefined) return { consumer, direction: "output", kernel: true };
  let r;
  try {
    r = JSON.parse(readFileSync(join(dir, "requests", key(chip, offset)), "utf8"));
  } catch {
    return undefined; // never requested, or released just now
  }
  return alive(r.pid) ? r : undefined;
}

function pullOf(chip, offset) {
  const file = join(dir, "pull", key(chip, offset));
  return existsSync(file) ? readFileSync(file, "utf8").trim() : "pull-down"; // gpio-sim's default pull
}

/** resolve_lines() + validate_resolution(): name lookup over every chip, or offsets on the chip given by -c. */
function resolveLines(ids, chipId, byName) {
  const all = chips();
  let scope = all;
  if (chipId !== undefined) {
    const c = lookupChip(chipId, all);
    if (!c) die(`cannot find GPIO chip character device '${chipId}'`);
    scope = [c];
  }
  const useOffsets = chipId !== undefined && !byName;
  const found = ids.map((id) => {
    if (useOffsets && /^\d+$/.test(id) && Number(id) < scope[0].lines.length) {
      return { id, chip: scope[0], offset: Number(id) };
    }
    for (const chip of scope) {
      const offset = chip.lines.indexOf(id);
      if (offset >= 0) return { id, chip, offset };
    }
    return { id };
  });
  let ok = true;
  for (const l of found) {
    if (l.chip) continue;
    ok = false;
    if (useOffsets && /^\d+$/.test(l.id)) err(`${argv0}: offset ${l.id} is out of range on chip '${chipId}'\n`);
    else err(`${argv0}: cannot find line '${l.id}'\n`);
  }
  if (!ok) process.exit(1);
  return found;
}

/** gpiod_chip_request_lines(): all or nothing; EBUSY when any line is held by another requester. */
function request(lines, record, busyMessage) {
  mkdirSync(join(dir, "requests"), { recursive: true });
  const taken = [];
  const release = () => {
    for (const f of taken) if (existsSync(f)) unlinkSync(f);
  };
  for (const l of lines) {
    const file = join(dir, "requests", key(l.chip, l.offset));
    if (requestOf(l.chip, l.offset) !== undefined) {
      release();
      die(`${busyMessage(l.chip)}: Device or resource busy`);
    }
    if (existsSync(file)) unlinkSync(file); // a dead requester's line
    // Written whole, then linked into place: link() fails if another requester got there first.
    const tmp = `${file}.${process.pid}`;
    writeFileSync(tmp, JSON.stringify({ ...record, pid: process.pid }));
    try {
      linkSync(tmp, file);
      taken.push(file);
    } catch {
      release();
      die(`${busyMessage(l.chip)}: Device or resource busy`);
    } finally {
      unlinkSync(tmp);
    }
  }
  // The kernel releases a process's lines however it ends; a signal's default action is to end it.
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"]) {
    process.once(sig, () => {
      release();
      process.kill(process.pid, sig);
    });
  }
  process.once("exit", release);
}

/** A reader sees the old or the new content, never an empty file (sysfs attributes are read whole). */
function writeAtomic(file, text) {
  writeFileSync(`${file}.${process.pid}`, text);
  renameSync(`${file}.${process.pid}`, file);
}

function waitForever() {
  setInterval(() => {}, 1 << 30);
}

// ---- the tools --------------------------------------------------------------------------------------------

function attributes(chip, offset) {
  const r = requestOf(chip, offset);
  const valueFile = join(dir, "value", key(chip, offset));
  let s = r?.direction ?? (existsSync(valueFile) ? "output" : "input");
  if (r?.activeLow) s += " active-low";
  if (r?.bias) s += ` bias=${r.bias}`;
  if (r?.edges) s += ` edges=${r.edges}`;
  if (r) s += ` consumer="${r.consumer}"`;
  return s;
}

function lineInfo(chip, offset) {
  const name = chip.lines[offset];
  if (name === null || name === undefined) return `${"unnamed".padEnd(16)}\t${attributes(chip, offset)}`;
  const quoted = name.length <= 14 ? `"${name}"`.padEnd(16) : `"${name}"`;
  return `${quoted}\t${attributes(chip, offset)}`;
}

function gpioinfo(argv) {
  const { opts, rest } = getopt(argv, "c:hsv", [
    { name: "by-name", arg: false, key: "B" },
    { name: "chip", arg: true, key: "c" },
    { name: "help", arg: false, key: "h" },
    { name: "strict", arg: false, key: "s" },
    { name: "unquoted", arg: false, key: "Q" },
    { name: "version", arg: false, key: "v" },
  ]);
  let chipId;
  let byName = false;
  for (const [k, v] of opts) {
    if (k === "c") chipId = v;
    else if (k === "B") byName = true;
    else if (k === "h") {
      out(`Usage: ${argv0} [OPTIONS] [line]...\n`);
      process.exit(0);
    } else if (k === "v") printVersion();
    else if (k === "Q") die("fake gpioinfo: --unquoted is not modelled");
  }
  if (rest.length === 0) {
    const all =
      chipId === undefined
        ? chips()
        : [lookupChip(chipId, chips()) ?? die(`cannot find GPIO chip character device '${chipId}'`)];
    for (const chip of all) {
      out(`${chip.name} - ${chip.lines.length} lines:\n`);
      chip.lines.forEach((_, offset) => out(`\tline ${String(offset).padStart(3)}:\t${lineInfo(chip, offset)}\n`));
    }
    process.exit(0);
  }
  for (const l of resolveLines(rest, chipId, byName))
    out(`${l.chip.name} ${l.offset}\t${lineInfo(l.chip, l.offset)}\n`);
  process.exit(0);
}

const LINE_VALUES = { 0: 0, 1: 1, inactive: 0, active: 1, off: 0, on: 1, false: 0, true: 1 };

/** The long options gpioset and gpiomon both take, parsed by requestOption(). */
const REQUEST_OPTIONS = [
  { name: "active-low", arg: false, key: "l" },
  { name: "banner", arg: false, key: "-" },
  { name: "bias", arg: true, key: "b" },
  { name: "by-name", arg: false, key: "B" },
  { name: "chip", arg: true, key: "c" },
  { name: "consumer", arg: true, key: "C" },
  { name: "help", arg: false, key: "h" },
  { name: "strict", arg: false, key: "s" },
  { name: "unquoted", arg: false, key: "Q" },
  { name: "version", arg: false, key: "v" },
];

/** A tool's long options in its source's (alphabetical) order: glibc lists an ambiguous prefix's matches so. */
const longOptions = (own) => [...REQUEST_OPTIONS, ...own].sort((a, b) => (a.name < b.name ? -1 : 1));

// Each tool's own long options besides REQUEST_OPTIONS (longopts[] of tools/gpioset.c and tools/gpiomon.c).
const GPIOSET_OPTIONS = longOptions([
  { name: "daemonize", arg: false, key: "z" },
  { name: "drive", arg: true, key: "d" },
  { name: "hold-period", arg: true, key: "p" },
  { name: "toggle", arg: true, key: "t" },
]);

const GPIOMON_OPTIONS = longOptions([
  { name: "debounce-period", arg: true, key: "p" },
  { name: "edges", arg: true, key: "e" },
  { name: "event-clock", arg: true, key: "E" },
  { name: "format", arg: true, key: "F" },
  { name: "idle-timeout", arg: true, key: "i" },
  { name: "localtime", arg: false, key: "localtime" },
  { name: "num-events", arg: true, key: "n" },
  { name: "quiet", arg: false, key: "q" },
  { name: "silent", arg: false, key: "q" },
  { name: "utc", arg: false, key: "utc" },
]);

/** The options gpioset and gpiomon parse alike; false for any other, which the tool handles itself. */
function requestOption(cfg, k, v, usage) {
  if (k === "l") cfg.activeLow = true;
  else if (k === "-") cfg.banner = true;
  else if (k === "b") cfg.bias = parseBias(v);
  else if (k === "B") cfg.byName = true;
  else if (k === "c") cfg.chip = v;
  else if (k === "C") cfg.consumer = v;
  else if (k === "h") {
    out(`Usage: ${argv0} [OPTIONS] ${usage}\n`);
    process.exit(0);
  } else if (k === "v") printVersion();
  else return false;
  return true;
}

/** print_banner() of gpioset.c and gpiomon.c: "<verb> line 'a'..." or "<verb> lines 'a', 'b' and 'c'...". */
function printBanner(verb, ids) {
  const quoted = ids.map((id) => `'${id}'`);
  out(
    quoted.length > 1
      ? `${verb} lines ${quoted.slice(0, -1).join(", ")} and ${quoted.at(-1)}...\n`
      : `${verb} line ${quoted[0]}...\n`,
  );
}

function gpioset(argv) {
  const { opts, rest } = getopt(argv, "b:c:C:d:hlp:st:vz", GPIOSET_OPTIONS);
  const cfg = { consumer: "gpioset", activeLow: false, banner: false, byName: false };
  for (const [k, v] of opts) {
    if (requestOption(cfg, k, v, "<line=value>...")) continue;
    if (k === "d") {
      if (!["push-pull", "open-drain", "open-source"].includes(v)) die(`invalid drive: ${v}`);
      if (v !== "push-pull") die(`fake gpioset: --drive ${v} is not modelled`);
    } else if (k === "p") cfg.hold = parsePeriod(v);
    else if (k === "t" || k === "z") die(`fake gpioset: -${k} is not modelled`);
  }
  if (rest.length < 1) die("at least one GPIO line value must be specified");
  const wanted = rest.map((lv) => {
    let line;
    let value;
    if (lv.startsWith('"')) {
      const end = lv.indexOf('"=', 1);
      if (end >= 0) [line, value] = [lv.slice(1, end), lv.slice(end + 2)];
    } else if (lv.includes("=")) [line, value] = [lv.slice(0, lv.indexOf("=")), lv.slice(lv.indexOf("=") + 1)];
    if (value === undefined) die(`invalid line value: '${lv}'`);
    if (!(value in LINE_VALUES)) die(`invalid line value: '${value}'`);
    return { line, value: LINE_VALUES[value] };
  });
  const ids = wanted.map((w) => w.line);
  const resolved = resolveLines(ids, cfg.chip, cfg.byName);
  request(
    resolved,
    { consumer: cfg.consumer, direction: "output", activeLow: cfg.activeLow, bias: cfg.bias },
    (chip) => `unable to request lines on chip '${devPath(chip)}'`,
  );
  mkdirSync(join(dir, "value"), { recursive: true });
  resolved.forEach((l, i) => {
    const logical = wanted[i].value;
    writeAtomic(join(dir, "value", key(l.chip, l.offset)), String(cfg.activeLow ? 1 - logical : logical));
  });
  if (cfg.banner) printBanner("Setting", ids);
  // Without -t, gpioset waits on the request's fd until it is killed: the values hold as long as it lives.
  waitForever();
}

function gpiomon(argv) {
  const { opts, rest } = getopt(argv, "b:c:C:e:E:hF:ln:p:qshv", GPIOMON_OPTIONS);
  const cfg = { consumer: "gpiomon", edges: "both", activeLow: false, banner: false, byName: false, quiet: false };
  for (const [k, v] of opts) {
    if (requestOption(cfg, k, v, "<line>...")) continue;
    if (k === "e") {
      if (!["rising", "falling", "both"].includes(v)) die(`invalid edges: ${v}`);
      cfg.edges = v;
    } else if (k === "E") {
      if (!["monotonic", "realtime", "hte"].includes(v)) die(`invalid event clock: ${v}`);
      if (v !== "monotonic") die(`fake gpiomon: --event-clock ${v} is not modelled`);
    } else if (k === "F") cfg.format = v;
    else if (k === "i") cfg.idleTimeout = parsePeriod(v);
    else if (k === "n") {
      if (!/^\d+$/.test(v)) die(`invalid number: '${v}'`);
      cfg.events = Number(v);
    } else if (k === "p") parsePeriod(v);
    else if (k === "q") cfg.quiet = true;
    else if (k === "localtime" || k === "utc" || k === "Q") die(`fake gpiomon: --${k} is not modelled`);
  }
  if (rest.length < 1) die("at least one GPIO line must be specified");
  if (rest.length > 64) die("too many lines given");
  const lines = resolveLines(rest, cfg.chip, cfg.byName);
  request(
    lines,
    { consumer: cfg.consumer, direction: "input", activeLow: cfg.activeLow, bias: cfg.bias, edges: cfg.edges },
    (chip) => `unable to request lines on chip ${devPath(chip)}`,
  );
  // gpio-sim applies a requested pull-up/pull-down to the simulated line.
  if (cfg.bias === "pull-up" || cfg.bias === "pull-down") {
    mkdirSync(join(dir, "pull"), { recursive: true });
    for (const l of lines) writeAtomic(join(dir, "pull", key(l.chip, l.offset)), cfg.bias);
  }
  // Edge detection starts with the request, before the banner is printed.
  const level = (l) => (pullOf(l.chip, l.offset) === "pull-up" ? 1 : 0);
  const last = lines.map(level);
  if (cfg.banner) printBanner("Monitoring", rest);
  let done = 0;
  let idle = Date.now();
  setInterval(() => {
    lines.forEach((l, i) => {
      const now = level(l);
      if (now === last[i]) return;
      last[i] = now;
      const rising = (cfg.activeLow ? 1 - now : now) === 1;
      if (cfg.edges !== "both" && cfg.edges !== (rising ? "rising" : "falling")) return;
      idle = Date.now();
      if (!cfg.quiet) out(`${formatEvent(cfg, l, rising)}\n`);
      if (cfg.events && ++done >= cfg.events) process.exit(0);
    });
    if (cfg.idleTimeout !== undefined && cfg.idleTimeout > 0 && (Date.now() - idle) * 1000 >= cfg.idleTimeout)
      process.exit(0);
  }, 5);
}

/** event_print_formatted() / event_print_human_readable() of gpiomon.c; timestamps from the monotonic clock. */
function formatEvent(cfg, l, rising) {
  const ns = process.hrtime.bigint();
  const seconds = `${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, "0")}`;
  const name = l.chip.lines[l.offset];
  if (cfg.format === undefined) {
    let id = name === null || name === undefined ? `${l.chip.name} ${l.offset}` : `"${name}"`;
    if (cfg.chip !== undefined && name !== null && name !== undefined) id = `${l.chip.name} ${l.offset} ${id}`;
    return `${seconds}\t${rising ? "rising" : "falling"}\t${id}`;
  }
  return cfg.format.replace(/%(.?)/g, (whole, c) => {
    switch (c) {
      case "c":
        return l.chip.name;
      case "e":
        return rising ? "1" : "2";
      case "E":
        return rising ? "rising" : "falling";
      case "l":
        return name ?? "unnamed";
      case "o":
        return String(l.offset);
      case "S":
        return seconds;
      case "%":
        return "%";
      case "":
        return "%";
      case "U":
      case "L":
        die(`fake gpiomon: %${c} is not modelled`);
        return "";
      default:
        return whole;
    }
  });
}

const tools = { gpioinfo, gpioset, gpiomon };
if (!(tool in tools)) die(`fake libgpiod 2.2: no tool ${tool}`);
tools[tool](args);
