// One error type for every call of the client, mapped once from ConnectError.
//
// The gateway and the services answer errors as gRPC status codes with
// google.rpc details: ErrorInfo (a machine-readable reason such as SEAT_TAKEN),
// BadRequest (every field violation of a bad request) and RetryInfo (how long
// to wait before retrying, e.g. when a screening is busy).

import { Code, ConnectError } from "@connectrpc/connect";
import { durationMs } from "@bufbuild/protobuf/wkt";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "./gen/google/rpc/error_details_pb.js";

export { Code };

/** One field of a request the server refused, e.g. `{ field: "seat_ids", description: "..." }`. */
export interface FieldViolation {
  field: string;
  description: string;
}

/** A call that failed, with the server's google.rpc error details decoded. */
export class CinemaError extends Error {
  override readonly name = "CinemaError";
  /** The gRPC status code, e.g. `Code.InvalidArgument`. */
  readonly code: Code;
  /** `google.rpc.ErrorInfo.reason`, e.g. "SEAT_TAKEN"; undefined when the server sent none. */
  readonly reason: string | undefined;
  /** `google.rpc.ErrorInfo.metadata`. */
  readonly metadata: Readonly<Record<string, string>>;
  /** `google.rpc.BadRequest.field_violations`; empty when the server sent none. */
  readonly fieldViolations: readonly FieldViolation[];
  /** `google.rpc.RetryInfo.retry_delay` in milliseconds; undefined when the server sent none. */
  readonly retryDelayMs: number | undefined;

  constructor(
    code: Code,
    message: string,
    details: {
      reason?: string;
      metadata?: Record<string, string>;
      fieldViolations?: FieldViolation[];
      retryDelayMs?: number;
      cause?: unknown;
    } = {},
  ) {
    super(message, { cause: details.cause });
    this.code = code;
    this.reason = details.reason;
    this.metadata = details.metadata ?? {};
    this.fieldViolations = details.fieldViolations ?? [];
    this.retryDelayMs = details.retryDelayMs;
  }

  /** The name of `code`, e.g. "InvalidArgument". */
  get codeName(): string {
    return Code[this.code];
  }

  /**
   * Maps anything a call threw (a ConnectError, an AbortError, ...) to a
   * CinemaError. Use it on errors of the raw generated clients too.
   */
  static from(err: unknown): CinemaError {
    if (err instanceof CinemaError) return err;
    const ce = ConnectError.from(err);
    const info = ce.findDetails(ErrorInfoSchema)[0];
    const retry = ce.findDetails(RetryInfoSchema)[0];
    const fieldViolations = ce
      .findDetails(BadRequestSchema)
      .flatMap((b) => b.fieldViolations.map(({ field, description }) => ({ field, description })));
    return new CinemaError(ce.code, ce.rawMessage, {
      reason: info?.reason || undefined,
      metadata: info ? { ...info.metadata } : undefined,
      fieldViolations,
      retryDelayMs: retry?.retryDelay ? durationMs(retry.retryDelay) : undefined,
      cause: ce,
    });
  }
}
