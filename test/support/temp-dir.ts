// Temporary directories for tests, removed by the caller (t.after / after).
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TempDir {
  dir: string;
  cleanup: () => void;
}

/**
 * A fresh directory under the system temp dir, named diy-<prefix>-XXXXXX, mode 0700. `daemonsMayEnter`: 0755, for
 * daemons that drop root to their own user (mosquitto, nginx) before they read the files placed in it.
 */
export function tempDir(prefix: string, { daemonsMayEnter = false } = {}): TempDir {
  const dir = mkdtempSync(join(tmpdir(), `diy-${prefix}-`));
  if (daemonsMayEnter) chmodSync(dir, 0o755);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
