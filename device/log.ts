// The device service logs in the format every program we ship shares (protocol/log.ts): the same fields as
// the web app's lines, and the same redaction of secret-looking fields.
export * from "../protocol/log";
