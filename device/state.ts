import { type CommandPayload, type OutputValue, parseCommand, parseTopic } from "../protocol";

// The decisions of the device service, free of I/O so unit tests can cover every branch:
// what an incoming message means, what value a command leads to, how long to wait before reconnecting.

export function nextValue(current: OutputValue, command: CommandPayload["value"]): OutputValue {
  if (command === "toggle") return current === "on" ? "off" : "on";
  return command;
}

export type Decision =
  | { kind: "apply"; output: string; value: OutputValue; req: string }
  | { kind: "drop"; reason: string };

/**
 * Reads one incoming MQTT message against the device's own id and outputs. Anything unexpected is
 * dropped with a reason to log: the broker's ACL should make foreign topics impossible, but the
 * service does not rely on it. A retained command (the broker replaying an old `set` on subscribe)
 * is dropped too: a command is meant for the moment it is sent, and a replayed toggle would flip the
 * line on every reconnect. The subscription already asks for none (retain handling 2).
 */
export function decide(
  deviceId: string,
  states: ReadonlyMap<string, OutputValue>,
  topic: string,
  payload: Buffer | string,
  retained = false,
): Decision {
  const parsed = parseTopic(topic);
  if (parsed?.kind !== "set") return { kind: "drop", reason: "not a command topic" };
  if (parsed.deviceId !== deviceId) return { kind: "drop", reason: `command for another device (${parsed.deviceId})` };
  if (retained) return { kind: "drop", reason: "retained command (replayed by the broker, not sent now)" };
  const current = states.get(parsed.name);
  if (current === undefined) return { kind: "drop", reason: `unknown output "${parsed.name}"` };
  const cmd = parseCommand(payload);
  if (!cmd.ok) return { kind: "drop", reason: `bad command payload: ${cmd.error}` };
  return { kind: "apply", output: parsed.name, value: nextValue(current, cmd.value.value), req: cmd.value.req };
}

export const RECONNECT_MIN_MS = 1000;
export const RECONNECT_MAX_MS = 30_000;

/**
 * Exponential backoff capped at 30 s, with ±20 % jitter so a fleet that lost the broker together
 * does not reconnect in one burst.
 */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(RECONNECT_MIN_MS * 2 ** Math.max(0, attempt), RECONNECT_MAX_MS);
  const jitter = 1 + (random() * 2 - 1) * 0.2;
  return Math.round(Math.min(base * jitter, RECONNECT_MAX_MS));
}
