// The history settings with the key table's defaults filled in, for a Settings built by hand (tests, the VM tier)
// as for one parseSettings made.
import { KEYS } from "./keys";
import type { Settings } from "./schema";

/** The history settings with the keys' defaults filled in. */
export function historySettings(s: Pick<Settings, "historyRawDays" | "historyAggregateDays" | "historyMaxMegabytes">): {
  rawDays: number;
  aggregateDays: number;
  maxMegabytes: number;
} {
  return {
    rawDays: s.historyRawDays ?? KEYS.historyRawDays.default,
    aggregateDays: s.historyAggregateDays ?? KEYS.historyAggregateDays.default,
    maxMegabytes: s.historyMaxMegabytes ?? KEYS.historyMaxMegabytes.default,
  };
}

/** The history volume's settings with the keys' defaults filled in. */
export function historyStorageSettings(
  s: Pick<Settings, "historyVolumeGiB" | "historySnapshotDays" | "historySnapshotId">,
): {
  volumeGiB: number;
  snapshotDays: number;
  snapshotId?: string;
} {
  return {
    volumeGiB: s.historyVolumeGiB ?? KEYS.historyVolumeGiB.default,
    snapshotDays: s.historySnapshotDays ?? KEYS.historySnapshotDays.default,
    ...(s.historySnapshotId ? { snapshotId: s.historySnapshotId } : {}),
  };
}
