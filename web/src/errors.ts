// Every refusal the page can meet, in the customer's words. One place maps a
// CinemaError (gRPC status + google.rpc details) to what the page says.

import { CinemaError, Code } from "./api.js";
import { t } from "./i18n.js";

export interface Problem {
  /** The sentence to show. */
  message: string;
  /** Extra lines: the server's own words, field violations. */
  details: string[];
  /** Set for a busy screening: when to try again (RetryInfo). */
  retryAt?: number;
  /** The sign-in expired or is missing: the page goes back to sign-in. */
  signIn: boolean;
}

/** `context` picks the sentence for NOT_FOUND, which means different things on different pages. */
export function describe(error: unknown, context: "booking" | "screening" | "other" = "other"): Problem {
  const m = t();
  const err = CinemaError.from(error);
  const server = err.message ? [err.message] : [];
  const problem = (message: string, details: string[] = server): Problem => ({ message, details, signIn: false });
  switch (err.code) {
    case Code.Unauthenticated:
      return { ...problem(m.sessionExpired, []), signIn: true };
    case Code.PermissionDenied:
      return problem(m.errNotYours);
    case Code.NotFound:
      if (err.reason === "SCREENING_NOT_FOUND" || context === "screening") return problem(m.errScreeningNotFound);
      return problem(m.errNotFound);
    case Code.FailedPrecondition:
    case Code.AlreadyExists:
      if (err.reason === "NOT_CANCELLABLE") return problem(m.errNotCancellable);
      if (err.reason === "SEAT_TAKEN" || /taken|held|sold/i.test(err.message)) return problem(m.errSeatTaken);
      return problem(m.errOther);
    case Code.ResourceExhausted: {
      if (err.retryDelayMs === undefined) return problem(m.errBusyNow);
      const seconds = Math.max(1, Math.ceil(err.retryDelayMs / 1000));
      return { ...problem(m.errBusy(seconds)), retryAt: Date.now() + err.retryDelayMs };
    }
    case Code.InvalidArgument:
      return problem(
        m.errInvalid,
        err.fieldViolations.length ? err.fieldViolations.map((v) => `${v.field}: ${v.description}`) : server,
      );
    case Code.Unavailable:
      return problem(m.errUnavailable, []);
    case Code.DeadlineExceeded:
      return problem(m.errTimeout);
    default:
      return problem(m.errOther, [`${err.codeName}: ${err.message}`]);
  }
}

/** The headline for a REJECTED booking's reason ("payment declined: ...", "seat A-1 is already taken"). */
export function rejection(reason: string): string {
  const m = t();
  if (/declin|insufficient|card/i.test(reason)) return m.errDeclined;
  if (/taken|held|sold/i.test(reason)) return m.errSeatTaken;
  return m.rejectedHint(reason);
}
