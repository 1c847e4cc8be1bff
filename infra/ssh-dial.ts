// How long a @pulumi/command SSH connection keeps dialling before it gives up, from its two settings. Pure.
//
// pulumi-command's dialWithRetry (provider/pkg/provider/remote/connection.go; its TestDialWithRetry pins the
// numbers): a dial that fails is retried until dialErrorLimit dials have failed, i.e. limit + 1 attempts; the
// waits between them start at 100 ms and grow ×1.5 up to a cap of 5 s (100, 150, 225, ... 3844 ms, then 5 s);
// each attempt itself may take up to perDialTimeout seconds (a dropped SYN), or return at once (refused).

const FIRST_WAIT_MS = 100;
const FACTOR = 1.5;
const CAP_MS = 5000;

/** The waits (ms) between the attempts of a connection with this dialErrorLimit. */
export function dialWaitsMs(dialErrorLimit: number): number[] {
  const waits: number[] = [];
  let wait = FIRST_WAIT_MS;
  for (let i = 0; i < dialErrorLimit; i++) {
    waits.push(Math.min(wait, CAP_MS));
    wait *= FACTOR;
  }
  return waits;
}

export interface DialBudget {
  /** Attempts before the provider gives up. */
  attempts: number;
  /** Seconds until it gives up when every dial is refused at once (sshd not listening yet). */
  refusedSeconds: number;
  /** Seconds until it gives up when every dial runs into perDialTimeout (packets dropped). */
  timedOutSeconds: number;
}

export function dialBudget(c: { dialErrorLimit: number; perDialTimeout: number }): DialBudget {
  const waited = dialWaitsMs(c.dialErrorLimit).reduce((a, b) => a + b, 0) / 1000;
  const attempts = c.dialErrorLimit + 1;
  return { attempts, refusedSeconds: waited, timedOutSeconds: waited + attempts * c.perDialTimeout };
}
