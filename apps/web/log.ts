// The web app logs in the format every program we ship shares (protocol/log.ts).
export * from "../../protocol/log";
