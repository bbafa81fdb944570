// Which failures are worth another attempt, and how long to wait before it.

import { Code } from "@connectrpc/connect";
import type { CinemaError } from "./errors.js";

/** Bounds on retrying a call (BookTickets, CancelBooking) and on re-opening a watch. */
export interface RetryPolicy {
  /** Attempts in all, the first one included. */
  maxAttempts: number;
  /** The backoff before the second attempt; it doubles per attempt up to `maxBackoffMs`. */
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** No attempt starts, and no attempt runs, past this long after the first one started. */
  deadlineMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 5,
  initialBackoffMs: 100,
  maxBackoffMs: 2_000,
  deadlineMs: 15_000,
};

/**
 * UNAVAILABLE is always worth a retry (nothing happened, or the idempotency key
 * makes the retry the same call); RESOURCE_EXHAUSTED only when the server said
 * when (RetryInfo): without it, it is a rate limit the caller should hear about.
 */
export function isRetryable(err: CinemaError): boolean {
  return (
    err.code === Code.Unavailable ||
    (err.code === Code.ResourceExhausted && err.retryDelayMs !== undefined)
  );
}

/**
 * The wait before attempt `attempt + 1` (attempt counts from 1): exponential
 * backoff with "equal jitter" (half fixed, half random), or the server's
 * RetryInfo delay plus up to one initial backoff of jitter, whichever is longer.
 */
export function backoffMs(
  attempt: number,
  policy: RetryPolicy,
  retryDelayMs?: number,
  random: () => number = Math.random,
): number {
  const cap = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** (attempt - 1));
  const backoff = cap / 2 + random() * (cap / 2);
  if (retryDelayMs === undefined) return Math.round(backoff);
  return Math.round(Math.max(backoff, retryDelayMs + random() * policy.initialBackoffMs));
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
