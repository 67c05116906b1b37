// What the ledger's client can ask.

/** rand and time answer differently on two VMs on purpose: compare mode must notice. */
export type ClientOperation = { op: 'add'; amount: number } | { op: 'get' } | { op: 'rand' } | { op: 'time' };

/** The operation as the request line spells it. */
export function describe(operation: ClientOperation): string {
  return operation.op === 'add' ? `add ${operation.amount}` : operation.op;
}
