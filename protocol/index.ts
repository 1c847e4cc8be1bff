export * from "./ids";
export * from "./topics";
export * from "./payloads";
export * from "./acl";
export * from "./homeassistant";
export * from "./limits";
export * from "./iot-core";
