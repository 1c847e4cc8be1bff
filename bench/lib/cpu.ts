// CPU figures for the sustained-commands load: CPU time per process from /proc, and the top self-time
// functions of a V8 CPU profile (node --cpu-prof, or inspector's Profiler for the benchmark's own process).
import { readFileSync, readdirSync } from "node:fs";
import { basename } from "node:path";

const TICKS_PER_SECOND = 100; // USER_HZ on Linux (proc(5): utime/stime are in clock ticks)

/** User + system CPU milliseconds a process has used (proc(5) /proc/<pid>/stat fields 14 and 15). */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // field 3 onwards; comm may hold spaces
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

/** The first process whose command line contains `needle` (e.g. mosquitto's config path), if any. */
export function findPid(needle: string): number | undefined {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(needle)) return Number(entry);
    } catch {
      // exited meanwhile
    }
  }
  return undefined;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Samples that are not our code at work: the thread waiting for events. */
const IDLE = new Set(["(idle)"]);

/** The `n` functions with the most self time: "name (file:line)", milliseconds, share of the busy samples. */
export function topSelfTime(profile: CpuProfile, n = 8): { fn: string; ms: number; share: number }[] {
  const byNode = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    const frame = byNode.get(id)?.callFrame;
    if (!frame || IDLE.has(frame.functionName)) return;
    const where = frame.url ? ` (${basename(frame.url)}:${frame.lineNumber + 1})` : "";
    const key = `${frame.functionName || "(anonymous)"}${where}`;
    self.set(key, (self.get(key) ?? 0) + us);
    total += us;
  });
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([fn, us]) => ({ fn, ms: us / 1000, share: total > 0 ? us / total : 0 }));
}
