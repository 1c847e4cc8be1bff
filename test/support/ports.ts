// Loopback ports for the daemons a test starts. One definition, in scripts/local-broker.ts, since `npm run demo`
// needs it too (scripts import nothing from test/).
export { freePort, portIsFree } from "../../scripts/local-broker";
