// A stand-in for the `pulumi` CLI's config commands, for running README recipes (readme-deploy.test.ts). It keeps
// the stack config in the JSON file $PULUMI_DOUBLE_STATE ({ config: { "ns:key": value }, secure: ["ns:key"] }) and
// follows the CLI's documented behaviour (pulumi.com/docs/iac/cli/commands/pulumi_config_set, _get, _rm) and its
// source (pkg/cmd/pulumi/config/config.go, sdk/go/common/resource/config/map.go):
// - a key without "ns:" belongs to the project (namespace diy-device-cloud);
// - `pulumi config set <key> [flags] [--] [value]`: a value left out is read from standard input ("Multi-line values
//   may be set by piping a file to standard in"), minus one trailing newline (cmdutil.RemoveTrailingNewline); an
//   argument starting with "-" before a "--" is parsed as an option, so a PEM key given as an argument fails
//   ("unknown flag");
// - with --path, "true"/"false" become booleans and integers numbers; top-level values stay strings;
// - `set --path 'k[i]' v` writes element i of list k, creating the list; an index past the end is refused with
//   "array index out of range" (map.go setValue: only i === length appends); `set --path 'k.f' v` sets a field;
// - `get --json k` prints { value, objectValue (structured values), secret } (config.go configValueJSON); a missing
//   key: error, exit 255;
// - `rm [--path] k` removes the key (or the list element).
// Every other command (stack init, preview, up) is recorded and succeeds.
const fs = require("node:fs");

const NAMESPACE = "diy-device-cloud";
const statePath = process.env.PULUMI_DOUBLE_STATE;
const state = JSON.parse(fs.readFileSync(statePath, "utf8"));
const save = () => fs.writeFileSync(statePath, JSON.stringify(state, null, 2));
const fail = (msg) => {
  process.stderr.write(`error: ${msg}\n`);
  process.exit(255);
};

const KNOWN_FLAGS = new Set([
  "--secret",
  "--path",
  "--plaintext",
  "--json",
  "--show-secrets",
  "--yes",
  "--preserve-config",
]);
const args = process.argv.slice(2);
state.commands = [...(state.commands ?? []), args];
const end = args.indexOf("--");
const before = end < 0 ? args : args.slice(0, end);
const flags = new Set(before.filter((a) => a.startsWith("-")));
for (const f of flags) if (!KNOWN_FLAGS.has(f)) fail(`unknown flag: ${f.split("\n")[0]}`);
const positional = [...before.filter((a) => !a.startsWith("-")), ...(end < 0 ? [] : args.slice(end + 1))];
const full = (key) => (key.includes(":") ? key : `${NAMESPACE}:${key}`);

/** "revokedDevices[1]" -> ["revokedDevices", 1]; "devices[0].host" -> ["devices", 0, "host"]. */
function parsePath(path) {
  const out = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]);
  return out;
}

if (positional[0] === "config" && positional[1] === "set") {
  const key = positional[2];
  const given = positional[3] ?? fs.readFileSync(0, "utf8").replace(/\r?\n$/, "");
  if (key === undefined) fail("usage: pulumi config set <key> [value]");
  const typed = (v) => (v === "true" ? true : v === "false" ? false : /^-?\d+$/.test(v) ? Number(v) : v);
  // Only values inside a map or list are typed; a top-level entry stays a string.
  const nested = flags.has("--path") && /[.[]/.test(key);
  const value = nested ? typed(given) : given;
  if (flags.has("--path")) {
    const [root, ...rest] = parsePath(key);
    const rootKey = full(root);
    let node = { [rootKey]: state.config[rootKey] };
    const container = node;
    let at = rootKey;
    for (const seg of rest) {
      if (node[at] === undefined) node[at] = typeof seg === "number" ? [] : {};
      if (typeof seg === "number" && (!Array.isArray(node[at]) || seg > node[at].length))
        fail(`could not set config: ${key}: array index out of range`);
      node = node[at];
      at = seg;
    }
    node[at] = value;
    state.config[rootKey] = container[rootKey];
    if (flags.has("--secret")) state.secure = [...new Set([...state.secure, rootKey])];
  } else {
    state.config[full(key)] = value;
    state.secure = state.secure.filter((k) => k !== full(key));
    if (flags.has("--secret")) state.secure.push(full(key));
  }
  save();
} else if (positional[0] === "config" && positional[1] === "get") {
  const key = full(positional[2]);
  if (!(key in state.config)) fail(`configuration key '${positional[2]}' not found for stack 'dev'`);
  const v = state.config[key];
  if (flags.has("--json")) {
    const structured = typeof v === "object" && v !== null;
    const out = { value: structured ? JSON.stringify(v) : String(v), secret: state.secure.includes(key) };
    if (structured) out.objectValue = v;
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else process.stdout.write(`${typeof v === "object" ? JSON.stringify(v) : v}\n`);
  save();
} else if (positional[0] === "config" && positional[1] === "rm") {
  const key = positional[2];
  if (flags.has("--path")) {
    const [root, index] = parsePath(key);
    const list = state.config[full(root)];
    if (Array.isArray(list) && typeof index === "number") list.splice(index, 1);
  } else delete state.config[full(key)];
  save();
} else save();
