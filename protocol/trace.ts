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

/**
 * DIY_LATENCY_TRACE=<file>: records every hop and writes them at exit as lines `<traceNow()> <hop> <req or
 * empty>` (the benchmark stops the process with SIGTERM; both mains exit through process.exit). Kept as
 * numbers in preallocated arrays until then, so tracing adds no garbage for the collector to copy.
 */
export function traceToFile(file: string, capacity = 200_000): void {
  const at = new Float64Array(capacity);
  const hop = new Uint8Array(capacity);
  const req: (string | undefined)[] = new Array(capacity);
  let n = 0;
  latencyTrace.hook = (h, r) => {
    if (n >= capacity) return;
    at[n] = traceNow();
    hop[n] = TRACE_HOPS.indexOf(h);
    req[n++] = r;
  };
  process.on("exit", () => {
    const lines: string[] = [];
    for (let i = 0; i < n; i++) lines.push(`${at[i]} ${TRACE_HOPS[hop[i] ?? 0]} ${req[i] ?? ""}`);
    writeFileSync(file, lines.join("\n"));
  });
}
