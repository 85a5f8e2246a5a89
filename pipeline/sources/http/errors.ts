import { PipelineError } from "../../lib/errors.ts";

/** Why a request failed. Only `status` carries an HTTP status. */
export type HttpFailureKind =
  | "status" // the server answered with an error status (4xx/5xx, or 403 as throttling)
  | "network" // no answer: refused, reset, DNS, TLS
  | "timeout" // no headers within connectTimeoutMs, or no complete body within timeoutMs
  | "truncated" // the body ended early: Content-Length mismatch or the stream was cut
  | "too_large" // the body is bigger than maxBytes (never retried)
  | "invalid_json" // getJson/postJson received a body that is not JSON (never retried)
  | "redirect" // a redirect refused: to another host or port, https → http, or too many (never retried)
  | "unexpected_304"; // 304 Not Modified for a request that was not conditional

/**
 * A request that failed for good: after its retries or budget, or at once when retrying cannot help. `url`
 * has credentials, secret query parameters and secret header values removed; nothing here holds a secret.
 * `transient` says whether the last failure was of a retryable kind (throttling, 5xx, network, timeout,
 * truncation): the caller can mark its source degraded/stale rather than broken.
 */
export class HttpError extends PipelineError {
  readonly kind: HttpFailureKind;
  readonly status: number | undefined;
  readonly url: string;
  readonly attempts: number;
  readonly transient: boolean;

  constructor(
    message: string,
    details: {
      kind: HttpFailureKind;
      status?: number | undefined;
      url: string;
      attempts: number;
      transient: boolean;
      hint?: string | undefined;
    },
  ) {
    super(message, { location: { file: details.url }, hint: details.hint });
    this.name = "HttpError";
    this.kind = details.kind;
    this.status = details.status;
    this.url = details.url;
    this.attempts = details.attempts;
    this.transient = details.transient;
  }
}
