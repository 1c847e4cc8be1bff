import type { InputConfig, OutputConfig } from "../config";
import { openGpiodInput, openGpiodOutput } from "./gpiod";
import { openLedOutput } from "./led";
import { openSimulatedInput, openSimulatedOutput, simulatedInputFile, simulatedOutputFile } from "./simulated";
import { openSysfsInput, openSysfsOutput } from "./sysfs";
import type { BackendEnv, InputLine, OutputLine } from "./types";

export type { BackendEnv, InputEvent, InputLine, OutputLine } from "./types";

/** Opens an output and drives it to `initial` (the safe state on start). */
export async function openOutput(cfg: OutputConfig, env: BackendEnv, initial: boolean): Promise<OutputLine> {
  const b = cfg.backend;
  let line: OutputLine;
  switch (b.type) {
    case "led":
      line = await openLedOutput(b, env);
      break;
    case "gpiod":
      line = await openGpiodOutput(b, env);
      break;
    case "sysfs":
      // sysfs sets direction and the initial level in one write.
      return openSysfsOutput(b.gpio, b.activeLow ?? false, env, initial);
    case "simulated":
      line = await openSimulatedOutput(simulatedOutputFile(env, cfg.name, b.file));
      break;
  }
  await line.write(initial);
  return line;
}

export async function openInput(cfg: InputConfig, env: BackendEnv): Promise<InputLine> {
  const b = cfg.backend;
  switch (b.type) {
    case "gpiod":
      return openGpiodInput(b, env);
    case "sysfs":
      return openSysfsInput(b.gpio, b.activeLow ?? false, env);
    case "simulated":
      return openSimulatedInput(simulatedInputFile(env, cfg.name, b.file), env);
  }
}
