// /etc/diy-web/config.json: the web app's config, checked by the web app's own schema (apps/web/config.ts
// WebConfig, alerts included) when the program renders it, as device-config.ts does for the boards: a value the
// app would refuse fails the render, not the app's start on the server. JSON has no comments: no header.
import { parseWebConfig, type WebConfig, type WebConfigInput } from "../../apps/web/config";

/** The config as the web app will read it, defaults filled in; throws one line per bad key, naming it. */
export function webConfig(input: WebConfigInput): WebConfig {
  return parseWebConfig(input, "the web app's config (/etc/diy-web/config.json)");
}

/** The file: what the stack set, as written (the app fills in its own defaults), once the schema accepts it. */
export function renderWebConfig(input: WebConfigInput): string {
  webConfig(input);
  return `${JSON.stringify(input, null, 2)}\n`;
}
