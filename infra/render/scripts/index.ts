// The shell scripts kept as real files beside this module, linted where they are (shellcheck -x). They are part
// of this program's source, read once like an import, never input: renderers only put their values in front.
import { readFileSync } from "node:fs";
import { join } from "node:path";

export type ScriptName = "device-install.sh" | "device-uninstall.sh";

const texts = new Map<string, string>();

function read(name: string): string {
  let text = texts.get(name);
  if (text === undefined) {
    text = readFileSync(join(__dirname, name), "utf8");
    texts.set(name, text);
  }
  return text;
}

/** `# shellcheck ... source=<lib>` then `source "${BASH_SOURCE[0]%/*}/<lib>"`: where a library goes in. */
const SOURCE_DIRECTIVE = /^# shellcheck (?:.* )?source=([a-z][a-z0-9-]*\.sh)$/;

/** A library's text as it goes into a script: without its opening comment (for readers of the file itself). */
function libraryBody(name: string): string[] {
  const rows = read(name).trimEnd().split("\n");
  const start = rows.findIndex((l) => !l.startsWith("#"));
  return rows.slice(start).filter((l, i) => i > 0 || l !== "");
}

/**
 * The script without its shebang and with each library it sources written in its place, so the result is one
 * file that runs on its own: the board gets one file.
 */
export function scriptBody(name: ScriptName): string {
  const [first, ...rest] = read(name).trimEnd().split("\n");
  if (!first?.startsWith("#!")) throw new Error(`infra/render/scripts/${name} must start with a shebang`);
  const out: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const lib = SOURCE_DIRECTIVE.exec(rest[i] ?? "")?.[1];
    if (lib === undefined) {
      if (/^\s*(source|\.) /.test(rest[i] ?? ""))
        throw new Error(`infra/render/scripts/${name}: a source line without its shellcheck source= directive`);
      out.push(rest[i] ?? "");
      continue;
    }
    if (rest[i + 1] !== `source "\${BASH_SOURCE[0]%/*}/${lib}"`)
      throw new Error(`infra/render/scripts/${name}: the directive naming ${lib} must precede its source line`);
    out.push(...libraryBody(lib));
    i++;
  }
  return out.join("\n");
}
