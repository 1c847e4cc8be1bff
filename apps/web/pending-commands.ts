// Commands this app sent whose result the page has not seen yet. A device state answering one skips
// the coalescing window (coalesce.ts): the result of a click that follows another within the window
// is not held back, and each sent command's req reaches the page. A req the app never sent (a device
// inventing them) gets no such pass, so a state flood stays capped by the window.
import type { DeviceView } from "./state";

/** A command unanswered this long is forgotten (the device is off or slow; its state then waits its turn). */
export const PENDING_COMMAND_TTL_MS = 10_000;
/** At most this many remembered at once; the oldest go first. */
export const MAX_PENDING_COMMANDS = 10_000;

export class PendingCommands {
  private readonly byReq = new Map<string, { key: string; expires: number }>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly ttlMs = PENDING_COMMAND_TTL_MS,
    private readonly max = MAX_PENDING_COMMANDS,
  ) {}

  /** Called before the command is published, so its answer cannot arrive first. */
  expect(deviceId: string, output: string, req: string): void {
    const now = this.now();
    // Insertion order is expiry order (one TTL): drop from the front what has expired or is over the cap.
    for (const [r, p] of this.byReq) {
      if (p.expires > now && this.byReq.size < this.max) break;
      this.byReq.delete(r);
    }
    this.byReq.set(req, { key: `${deviceId}/${output}`, expires: now + this.ttlMs });
  }

  /** The command was not published after all. */
  forget(req: string): void {
    this.byReq.delete(req);
  }

  /** True when the view carries the req of a pending command to that device and output; it is then answered. */
  answers(view: DeviceView): boolean {
    let answered = false;
    for (const o of view.outputs) {
      const p = o.req === undefined ? undefined : this.byReq.get(o.req);
      if (o.req === undefined || !p || p.key !== `${view.id}/${o.name}`) continue;
      this.byReq.delete(o.req);
      if (p.expires > this.now()) answered = true;
    }
    return answered;
  }
}
