// infra/serial-ledger.ts's local command run the way @pulumi/command runs it across `pulumi up`s
// (pulumi-command-double.ts): shared by the ledger's unit test and the revocation attack.
import { LEDGER_SCRIPT, type LedgerEntry, renderLedgerInput } from "../../infra/render/serial-ledger";
import { type LocalCommandState, upLocalCommand } from "./pulumi-command-double";

export type { LocalCommandState };

/** One `pulumi up` of the ledger command with the stack's current certificates; `previous` is the last up's state. */
export function upSerialLedger(current: LedgerEntry[], previous?: LocalCommandState): LocalCommandState {
  return upLocalCommand(
    {
      interpreter: ["node", "-e"],
      create: LEDGER_SCRIPT,
      update: LEDGER_SCRIPT,
      stdin: renderLedgerInput(current),
      addPreviousOutputInEnv: true,
    },
    previous,
  );
}
