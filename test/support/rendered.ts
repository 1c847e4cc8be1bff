// Assertions on rendered files, for the renderers' unit tests.
import assert from "node:assert/strict";

const literally = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** The two comment lines a renderer opens its file with (infra/render/text.ts header): which renderer, from what. */
export function assertRenderedHeader(text: string, renderer: string, source: string): void {
  assert.match(
    text,
    new RegExp(
      `^# Rendered by diy-device-cloud ${literally(renderer)}; do not edit by hand\\.\\n# Source: ${literally(source)}\\n`,
    ),
  );
}

/** Each of `expected` is one of `lines`, whole; the failure names the first that is not. */
export function assertHasLines(lines: readonly string[], expected: readonly string[]): void {
  for (const line of expected) assert.ok(lines.includes(line), line);
}
