// Per-hop timestamps of one command through web -> broker -> device -> broker -> web, for the click
// benchmark's breakdown (bench/click-latency.ts). Off unless a hook is set, so each call site costs one
// property read: the web app's and the device's main.ts set it when DIY_LATENCY_TRACE names a file
// (kept in memory, written once at exit, never on the hot path).
import { writeFileSync } from "node:fs";

/** The hops in path order; "publish-acked" is the broker's PUBACK to the web app, beside the path. */
export const TRACE_HOPS = [
  "request-received",
  "command-published",
  "device-received",
  "output-written",
  "state-published",
  "state-received",
  "event-written",
  "publish-acked",
] as const;
export type TraceHop = (typeof TRACE_HOPS)[number];

/** `req` is the command's request id where the hop knows it, else undefined (HTTP received). */
export const latencyTrace: { hook?: (hop: TraceHop, req: string | undefined) => void } = {};

/** Wall-clock milliseconds with sub-millisecond resolution, comparable between processes on one machine. */
export function traceNow(): number {
  return performance.timeOrigin + performance.now();
}

/** A request id as the web app makes them (12 base64url characters, 9 bytes): kept as two numbers. */
const COMPACT_REQ = /^[A-Za-z0-9_-]{12}$/;

/**
 * DIY_LATENCY_TRACE=<file>: records every hop and writes them at exit as lines `<traceNow()> <hop> <req or
 * empty>` (the benchmark stops the process with SIGTERM; both mains exit through process.exit). Kept as
 * numbers in preallocated arrays until then, request ids too: a trace that held a string per hop made each
 * scavenge of the traced process copy them (the device's went from ~0.5 to ~1.5 ms, --trace-gc).
 */
export function traceToFile(file: string, capacity = 200_000): void {
  const at = new Float64Array(capacity);
  const hop = new Uint8Array(capacity);
  const reqHigh = new Float64Array(capacity); // first 6 bytes of the id, or -1: no id, or -2: in `other`
  const reqLow = new Float64Array(capacity); // last 3 bytes
  const other = new Map<number, string>();
  let n = 0;
  latencyTrace.hook = (h, r) => {
    if (n >= capacity) return;
    at[n] = traceNow();
    hop[n] = TRACE_HOPS.indexOf(h);
    if (r === undefined) reqHigh[n] = -1;
    else if (COMPACT_REQ.test(r)) {
      const b = Buffer.from(r, "base64url");
      reqHigh[n] = b.readUIntBE(0, 6);
      reqLow[n] = b.readUIntBE(6, 3);
    } else {
      reqHigh[n] = -2;
      other.set(n, r);
    }
    n++;
  };
  const reqAt = (i: number): string => {
    const high = reqHigh[i] ?? -1;
    if (high === -1) return "";
    if (high === -2) return other.get(i) ?? "";
    const b = Buffer.alloc(9);
    b.writeUIntBE(high, 0, 6);
    b.writeUIntBE(reqLow[i] ?? 0, 6, 3);
    return b.toString("base64url");
  };
  process.on("exit", () => {
    const lines: string[] = [];
    for (let i = 0; i < n; i++) lines.push(`${at[i]} ${TRACE_HOPS[hop[i] ?? 0]} ${reqAt(i)}`);
    writeFileSync(file, lines.join("\n"));
  });
}
