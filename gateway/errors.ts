/** The gateway's own error types: each maps to one way a request can fail. */

/** A request the gateway refuses with a 400; the message is safe to show the client. */
export class BadRequest extends Error {
  override name = "BadRequest";
  /** The status the client gets: 400 unless a subclass names a more precise one. */
  readonly status: number = 400;
}

/** The request body grew past `limit_request_body` while the app read it: 413. */
export class RequestBodyTooLarge extends BadRequest {
  override name = "RequestBodyTooLarge";
  override readonly status: number = 413;
}

/** The app broke the TSGI contract (the message names the rule); the client gets a 500. */
export class ContractViolation extends Error {
  override name = "ContractViolation";
}
