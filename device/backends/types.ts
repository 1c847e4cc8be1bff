import type { Logger } from "../log";

// Every GPIO backend hides behind these two interfaces, so the service never knows which
// kernel interface drives a line. `on` is the logical value: active-low is the backend's business.

export interface OutputLine {
  readonly description: string;
  /** Drives the line; resolves once the hardware (or file) holds the value. */
  write(on: boolean): Promise<void>;
  /** Releases the line (kills gpioset, unexports). Idempotent. */
  close(): Promise<void>;
}

export type InputEvent = "pressed" | "released";

export interface InputLine {
  readonly description: string;
  /** Starts watching; `onEvent` is called once per edge. */
  start(onEvent: (event: InputEvent) => void): Promise<void>;
  /** May come while start() is still opening (the service does not wait for it): start then opens nothing. */
  close(): Promise<void>;
}

/** What backends need from the outside world; tests point these at a fake tree in a temp dir. */
export interface BackendEnv {
  /** Root of sysfs; "/sys" on a board. */
  sysfsRoot: string;
  /** Directory of the libgpiod tools; undefined = found on PATH. */
  gpiodBinDir?: string;
  /** Where simulated backends keep their files when the config names none. */
  stateDir: string;
  log: Logger;
}
