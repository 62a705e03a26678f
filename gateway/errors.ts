/** The gateway's own error types: each maps to one way a request can fail. */

/** A request the gateway refuses with a 400; the message is safe to show the client. */
export class BadRequest extends Error {
  override name = "BadRequest";
}

/** The app broke the TSGI contract (the message names the rule); the client gets a 500. */
export class ContractViolation extends Error {
  override name = "ContractViolation";
}
