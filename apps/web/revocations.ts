// Logged-out sessions, kept in a file in the app's state directory (diy-web.service: StateDirectory
// /var/lib/diy-web) so that a cookie that was logged out stays dead after a restart. One line per
// logout, "<sid> <expires, unix seconds>", appended; compacted (expired lines dropped) at start.
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import type { Logger } from "./log";
import type { RevocationList } from "./session";

export const REVOCATIONS_FILE = "revoked-sessions";

const LINE = /^([A-Za-z0-9_-]{24}) (\d{1,12})$/;

export function fileRevocations(file: string, log: Logger, now: () => number = Date.now): RevocationList {
  return {
    load() {
      const entries = new Map<string, number>();
      if (!existsSync(file)) return entries;
      const nowSeconds = Math.floor(now() / 1000);
      let bad = 0;
      for (const line of readFileSync(file, "utf8").split("\n")) {
        if (!line) continue;
        const m = LINE.exec(line);
        if (!m) {
          bad++;
          continue;
        }
        const exp = Number(m[2]);
        if (exp > nowSeconds) entries.set(m[1] as string, exp);
      }
      if (bad) log.warn("session_revocations_bad_lines", { file, lines: bad });
      // Compact: a crash mid-write leaves the old file whole (rename is atomic).
      const tmp = `${file}.tmp`;
      writeFileSync(tmp, [...entries].map(([sid, exp]) => `${sid} ${exp}\n`).join(""), { mode: 0o600 });
      renameSync(tmp, file);
      return entries;
    },
    add(sid, exp) {
      try {
        appendFileSync(file, `${sid} ${exp}\n`, { mode: 0o600 });
      } catch (err) {
        // The logout still holds until the next restart; say why it will not outlive one.
        log.error("session_revocation_not_saved", { file, error: (err as Error).message });
      }
    },
  };
}
