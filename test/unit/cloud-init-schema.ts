// cloud-init's own cloud-config schema, as Debian 13's cloud-init 25.1 ships it (scripts/cloud-init-schema.sh
// puts it in the cache; scripts/setup.sh test runs that). Debian 12's 22.4 `cloud-init schema` accepts unknown
// top-level keys; 25.1 does not, so this is the check that catches a key cloud-init would ignore.
//
// The validator follows cloud-init's (cloudinit/config/schema.py, get_jsonschema_validator and
// validate_cloudconfig_schema in 25.1): JSON Schema draft 4, format checks on, the document parsed like
// PyYAML's safe_load (YAML 1.1), and a key whose schema says `deprecated: true` reported (cloud-init logs it
// as DEPRECATED; we treat it as a problem: nothing we render should lean on a key that is going away).
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import Ajv04 from "ajv-draft-04";
import addFormats from "ajv-formats";
import { parse } from "yaml";

export const SCHEMA_DIR =
  process.env.DIY_CLOUD_INIT_SCHEMA_DIR ??
  join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "diy-device-cloud", "cloud-init-schema");

export interface CloudInitSchema {
  /** The package the schema came from, e.g. "cloud-init 25.1.4-1+deb13u1 (Debian trixie, ...)". */
  source: string;
  /** Problems cloud-init would report for this user data, "path: message" each; empty when it is valid. */
  validate(userData: string): string[];
}

let loaded: CloudInitSchema | undefined;

export function cloudInitSchema(): CloudInitSchema {
  if (loaded) return loaded;
  const file = join(SCHEMA_DIR, "schema-cloud-config-v1.json");
  if (!existsSync(file)) {
    throw new Error(
      `cloud-init's schema is not at ${file}: run \`bash scripts/cloud-init-schema.sh\` (scripts/setup.sh test does)`,
    );
  }
  const schema = JSON.parse(readFileSync(file, "utf8")) as object;
  const source = (readFileSync(join(SCHEMA_DIR, "SOURCE.txt"), "utf8").split("\n")[0] ?? "").replace(/^package: /, "");
  // strict: false: the schema carries cloud-init's documentation keywords (label, deprecated_version, ...).
  const ajv = new Ajv04({ allErrors: true, strict: false });
  addFormats(ajv, ["uri", "date", "hostname"]);
  ajv.addKeyword({
    keyword: "deprecated",
    schemaType: "boolean",
    errors: true,
    validate: function deprecated(isDeprecated: boolean) {
      if (isDeprecated) {
        (deprecated as unknown as { errors: object[] }).errors = [
          { keyword: "deprecated", message: "is deprecated in this cloud-init", params: {} },
        ];
      }
      return !isDeprecated;
    },
  });
  const check = ajv.compile(schema);
  loaded = {
    source,
    validate(userData: string): string[] {
      const firstLine = userData.split("\n", 1)[0];
      if (firstLine !== "#cloud-config") return [`first line is ${JSON.stringify(firstLine)}, not #cloud-config`];
      const doc = parse(userData, { version: "1.1" }) as unknown;
      if (check(doc)) return [];
      return (check.errors ?? []).map((e) => {
        const extra =
          e.keyword === "additionalProperties"
            ? ` (${(e.params as { additionalProperty: string }).additionalProperty})`
            : "";
        return `${e.instancePath || "(top level)"}: ${e.message}${extra}`;
      });
    },
  };
  return loaded;
}
