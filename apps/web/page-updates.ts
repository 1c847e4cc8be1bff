// What an open page or event stream is told as it happens: device changes (coalesced, coalesce.ts), input
// events and the broker link going up or down. One listener each on those sources serves every open page and
// stream together, attached while any is open: a user opens as many pages as tabs and reconnects, and one
// listener per page on the store and the broker link would past ten be reported as a possible leak
// (MaxListenersExceededWarning) — and would let a client with many streams add listeners without bound.
import type { CommandSender } from "./broker";
import type { CoalescedChanges } from "./coalesce";
import type { DeviceStore, DeviceView, InputEvent } from "./state";

/** One open page or stream. */
export interface PageUpdateSink {
  device(d: DeviceView): void;
  input(e: InputEvent): void;
  broker(connected: boolean): void;
}

export interface PageUpdateSources {
  changes: Pick<CoalescedChanges, "on" | "off">;
  store: Pick<DeviceStore, "on" | "off">;
  broker: Pick<CommandSender, "on" | "off">;
}

export class PageUpdates {
  private readonly sinks = new Set<PageUpdateSink>();

  constructor(private readonly sources: PageUpdateSources) {}

  /** Starts telling `sink`; returns what stops it. */
  add(sink: PageUpdateSink): () => void {
    if (this.sinks.size === 0) this.listen(true);
    this.sinks.add(sink);
    return () => {
      if (this.sinks.delete(sink) && this.sinks.size === 0) this.listen(false);
    };
  }

  private readonly onChange = (d: DeviceView) => {
    for (const s of this.sinks) s.device(d);
  };
  private readonly onInput = (e: InputEvent) => {
    for (const s of this.sinks) s.input(e);
  };
  private readonly onConnection = (connected: boolean) => {
    for (const s of this.sinks) s.broker(connected);
  };

  private listen(on: boolean): void {
    const { changes, store, broker } = this.sources;
    if (on) {
      changes.on("change", this.onChange);
      store.on("input", this.onInput);
      broker.on("connection", this.onConnection);
    } else {
      changes.off("change", this.onChange);
      store.off("input", this.onInput);
      broker.off("connection", this.onConnection);
    }
  }
}
