import { readFile } from "node:fs/promises";
import { type SensorEnv, type SensorReader, parseNumber } from "./types";

// A stand-in for a probe in the demo and the tests. Without a file it is a plausible room temperature:
// base + amplitude * sin(2πt / period) + a random walk, clamped to ±3 × noise around the sine, plus
// noise on each sample. With a file holding a number, that number is the reading (tests and people set
// it with `echo 23.5 > file`); a file that holds something else is an error, like a broken probe.

export interface SimulatedSignal {
  base: number;
  amplitude: number;
  periodSeconds: number;
  noise: number;
}

export const DEFAULT_SIGNAL: SimulatedSignal = { base: 21, amplitude: 2, periodSeconds: 3600, noise: 0.1 };

/** The deterministic part of the signal at time t (ms). */
export function signalAt(s: SimulatedSignal, t: number): number {
  return s.base + s.amplitude * Math.sin((2 * Math.PI * (t / 1000)) / s.periodSeconds);
}

export function openSimulatedSensor(env: SensorEnv, opts: Partial<SimulatedSignal> & { file?: string }): SensorReader {
  const signal: SimulatedSignal = {
    base: opts.base ?? DEFAULT_SIGNAL.base,
    amplitude: opts.amplitude ?? DEFAULT_SIGNAL.amplitude,
    periodSeconds: opts.periodSeconds ?? DEFAULT_SIGNAL.periodSeconds,
    noise: opts.noise ?? DEFAULT_SIGNAL.noise,
  };
  const now = env.now ?? Date.now;
  const random = env.random ?? Math.random;
  let walk = 0;
  return {
    description: opts.file ? `simulated:${opts.file}` : "simulated",
    read: async () => {
      if (opts.file) {
        const text = await readFile(opts.file, "utf8").catch((err: NodeJS.ErrnoException) => {
          if (err.code === "ENOENT") return undefined;
          throw err;
        });
        if (text !== undefined) return parseNumber(text, opts.file);
      }
      const bound = 3 * signal.noise;
      walk = Math.max(-bound, Math.min(bound, walk + (random() * 2 - 1) * signal.noise));
      const jitter = (random() * 2 - 1) * signal.noise * 0.5;
      // Rounded like a real probe's resolution, so report-on-change sees steps, not float dust.
      return Math.round((signalAt(signal, now()) + walk + jitter) * 1000) / 1000;
    },
  };
}
