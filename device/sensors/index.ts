import type { SensorConfig } from "./config";
import { openDs18b20 } from "./ds18b20";
import { openFileSensor } from "./file";
import { openSimulatedSensor } from "./simulated";
import { openCpuThermal } from "./thermal";
import type { SensorEnv, SensorReader } from "./types";

export type { SensorEnv, SensorReader } from "./types";

/** Opens a sensor: finds its file (or fails with a message that says what to fix). */
export async function openSensor(cfg: SensorConfig, env: SensorEnv): Promise<SensorReader> {
  const b = cfg.backend;
  switch (b.type) {
    case "cpu-thermal":
      return openCpuThermal(env, b.zone);
    case "ds18b20":
      return openDs18b20(env, b.id);
    case "file":
      return openFileSensor(env, b);
    case "simulated":
      return openSimulatedSensor(env, b);
  }
}
