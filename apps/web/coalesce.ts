// Device changes for the page, coalesced per device: the first change goes out at once (a click's
// result is not delayed), further changes within the window are merged into one trailing update
// carrying the latest view. A device changing a thousand times a second then costs the page a
// handful of events, shared by every open stream. The answer to a command this app sent (isAnswer,
// pending-commands.ts) goes out at once even inside a window: a click's result is never held back.
import { EventEmitter } from "node:events";
import type { DeviceStore, DeviceView } from "./state";

/** At most one device update per device per this many milliseconds, after the first. */
export const DEVICE_UPDATE_WINDOW_MS = 250;

interface CoalescedEvents {
  change: [DeviceView];
}

export class CoalescedChanges extends EventEmitter<CoalescedEvents> {
  private readonly pending = new Map<string, { timer: NodeJS.Timeout; latest?: DeviceView }>();
  private readonly onChange = (d: DeviceView) => this.push(d);

  constructor(
    private readonly store: DeviceStore,
    private readonly windowMs = DEVICE_UPDATE_WINDOW_MS,
    private readonly isAnswer: (d: DeviceView) => boolean = () => false,
  ) {
    super();
    // One listener per open page would pass the default warning threshold: streams are counted elsewhere.
    this.setMaxListeners(0);
    store.on("change", this.onChange);
  }

  private push(d: DeviceView): void {
    const slot = this.pending.get(d.id);
    if (slot) {
      if (!this.isAnswer(d)) {
        slot.latest = d;
        return;
      }
      // The newest view goes out now; nothing older is left to trail. The window stays as it was.
      slot.latest = undefined;
      this.emit("change", d);
      return;
    }
    this.isAnswer(d); // answered: remembered no longer
    this.emit("change", d);
    this.startWindow(d.id);
  }

  private startWindow(id: string): void {
    const timer = setTimeout(() => {
      const slot = this.pending.get(id);
      this.pending.delete(id);
      if (slot?.latest) {
        this.emit("change", slot.latest);
        this.startWindow(id);
      }
    }, this.windowMs);
    timer.unref();
    this.pending.set(id, { timer });
  }

  /** Stops listening; pending trailing updates are dropped (the app is shutting down). */
  close(): void {
    this.store.off("change", this.onChange);
    for (const { timer } of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
  }
}
