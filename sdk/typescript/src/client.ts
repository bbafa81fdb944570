// createClient: the transport, the token, and the verbs the generated clients
// cannot give on their own (book with retries and follow-up, watch, cancel).

import { Code, createClient as createServiceClient } from "@connectrpc/connect";
import type { Client, Transport } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { grpcTransport } from "#grpc-transport";
import { BookingService } from "./gen/cinema/booking/v1/booking_pb.js";
import { SagaOperatorService } from "./gen/cinema/booking/v1/operator_pb.js";
import { BookingStatus } from "./gen/cinema/common/v1/common_pb.js";
import { LoyaltyService } from "./gen/cinema/loyalty/v1/loyalty_pb.js";
import { NotificationService } from "./gen/cinema/notification/v1/notification_pb.js";
import {
  BookingQueryService,
  BookingViewAdmin,
  type Booking,
  type ListBookingsResponse,
} from "./gen/cinema/reservation/v1/reservation_pb.js";
import { ScreeningService } from "./gen/cinema/screening/v1/screening_pb.js";
import { SeatsService, type SeatMap } from "./gen/cinema/seats/v1/seats_pb.js";
import { CinemaError } from "./errors.js";
import { DEFAULT_RETRY, backoffMs, delay, isRetryable, type RetryPolicy } from "./retry.js";
import { isFinal, statusName } from "./status.js";

/** A bearer token, or a function that returns the current one (called before every call). */
export type TokenSource = string | (() => string | Promise<string>);

export interface ClientOptions {
  /** The Envoy gateway, e.g. "http://127.0.0.1:8080". */
  baseUrl: string;
  /** Sent as `authorization: Bearer <token>`; browsing (movies, screenings, seat maps) needs none. */
  token?: TokenSource;
  /**
   * "grpc-web" (default): fetch, in browsers and in Node 20+.
   * "grpc": HTTP/2 (h2c for http://), Node only.
   * Or a ready Transport (tests, custom setups); the token is added to it too.
   */
  transport?: "grpc-web" | "grpc" | Transport;
  /** Bounds on retrying BookTickets and CancelBooking; defaults in DEFAULT_RETRY. */
  retry?: Partial<RetryPolicy>;
  /** How long book() and cancel() follow a booking to its final status (default 60 s). */
  followTimeoutMs?: number;
}

export interface BookRequest {
  screeningId: string;
  /** Seat ids like "A-1"; one to ten, no duplicates. */
  seatIds: string[];
  /** A tokenized card ("tok_visa"; "tok_decline" is always declined). */
  cardToken: string;
  /** The idempotency key; a fresh UUID when absent. Every retry reuses it. */
  requestId?: string;
}

export interface CallOptions {
  signal?: AbortSignal;
}

/** The generated clients of the public services, for everything the verbs do not cover. */
export interface Services {
  booking: Client<typeof BookingService>;
  bookingQuery: Client<typeof BookingQueryService>;
  screening: Client<typeof ScreeningService>;
  seats: Client<typeof SeatsService>;
  loyalty: Client<typeof LoyaltyService>;
  notification: Client<typeof NotificationService>;
  /** Operators only (a token with the `operator` role). */
  sagaOperator: Client<typeof SagaOperatorService>;
  bookingViewAdmin: Client<typeof BookingViewAdmin>;
}

export interface CinemaClient {
  /**
   * Books seats and pays: BookTickets with one request id for every attempt
   * (UNAVAILABLE, and RESOURCE_EXHAUSTED with RetryInfo, are retried with
   * backoff), then follows the booking to its final status (CONFIRMED,
   * REJECTED, EXPIRED or CANCELLED) and returns it. Refusals are a REJECTED
   * booking with its `reason`; bad input throws a CinemaError.
   */
  book(request: BookRequest, options?: CallOptions): Promise<Booking>;
  /**
   * Cancels a CONFIRMED booking (retried like book; a second cancel answers the
   * same) and returns it once CANCELLED.
   */
  cancel(bookingNumber: string, reason?: string, options?: CallOptions): Promise<Booking>;
  getBooking(bookingNumber: string, options?: CallOptions): Promise<Booking>;
  listBookings(
    customerId: string,
    page?: { pageSize?: number; pageToken?: string },
    options?: CallOptions,
  ): Promise<ListBookingsResponse>;
  /**
   * The booking now and on every change. The server ends it at REJECTED,
   * EXPIRED or CANCELLED; break out of the loop to stop earlier.
   */
  watch(bookingNumber: string, options?: CallOptions): AsyncIterable<Booking>;
  /**
   * The seat map now and on every change. The server ends it when the
   * screening starts, after an hour, or when it drains: watch again to go on.
   */
  watchSeatMap(screeningId: string, options?: CallOptions): AsyncIterable<SeatMap>;
  readonly services: Services;
  readonly transport: Transport;
  /** Closes the HTTP/2 connection of the "grpc" transport (a no-op for the others). */
  close(): void;
}

export function createClient(options: ClientOptions): CinemaClient {
  const { transport, close } = buildTransport(options);
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry };
  const followTimeoutMs = options.followTimeoutMs ?? 60_000;
  const services: Services = {
    booking: createServiceClient(BookingService, transport),
    bookingQuery: createServiceClient(BookingQueryService, transport),
    screening: createServiceClient(ScreeningService, transport),
    seats: createServiceClient(SeatsService, transport),
    loyalty: createServiceClient(LoyaltyService, transport),
    notification: createServiceClient(NotificationService, transport),
    sagaOperator: createServiceClient(SagaOperatorService, transport),
    bookingViewAdmin: createServiceClient(BookingViewAdmin, transport),
  };

  // Follows a booking through WatchBooking until `done`, re-watching when the
  // stream ends early or the gateway is unavailable, within followTimeoutMs.
  // NOT_FOUND is retried too: the number came from the server, and a booking
  // answered PENDING may reach the reservation record only when its saga runs.
  async function follow(
    bookingNumber: string,
    done: (b: Booking) => boolean,
    signal: AbortSignal | undefined,
  ): Promise<Booking> {
    const deadline = Date.now() + followTimeoutMs;
    let last: Booking | undefined;
    const timedOut = () =>
      new CinemaError(
        Code.DeadlineExceeded,
        `booking ${bookingNumber} is still ${last ? statusName(last.status) : "unseen"} after ${followTimeoutMs} ms`,
      );
    for (let attempt = 1; ; attempt++) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw timedOut();
      try {
        for await (const b of watchStream(bookingNumber, { signal }, remaining)) {
          last = b;
          if (done(b)) return b;
        }
      } catch (e) {
        const err = CinemaError.from(e);
        if (err.code === Code.DeadlineExceeded && Date.now() >= deadline) throw timedOut();
        if (!isRetryable(err) && err.code !== Code.NotFound) throw err;
      }
      const wait = backoffMs(Math.min(attempt, 6), policy);
      if (Date.now() + wait >= deadline) throw timedOut();
      await delay(wait, signal);
    }
  }

  function watchStream(bookingNumber: string, options: CallOptions, timeoutMs?: number) {
    return stream(
      (signal) => services.bookingQuery.watchBooking({ bookingNumber }, { signal }),
      options.signal,
      timeoutMs,
    );
  }

  return {
    async book(request, options = {}) {
      const requestId = request.requestId ?? crypto.randomUUID();
      const result = await retrying(policy, options.signal, (timeoutMs) =>
        services.booking.bookTickets(
          {
            requestId,
            screeningId: request.screeningId,
            seatIds: request.seatIds,
            payment: { cardToken: request.cardToken },
          },
          { signal: options.signal, timeoutMs },
        ),
      );
      return follow(result.bookingNumber, (b) => isFinal(b.status), options.signal);
    },

    async cancel(bookingNumber, reason = "", options = {}) {
      await retrying(policy, options.signal, (timeoutMs) =>
        services.booking.cancelBooking({ bookingNumber, reason }, { signal: options.signal, timeoutMs }),
      );
      // The view may still show CONFIRMED for a few milliseconds: wait for CANCELLED.
      return follow(bookingNumber, (b) => b.status === BookingStatus.CANCELLED, options.signal);
    },

    async getBooking(bookingNumber, options = {}) {
      return call(() => services.bookingQuery.getBooking({ bookingNumber }, options));
    },

    async listBookings(customerId, page = {}, options = {}) {
      return call(() => services.bookingQuery.listBookings({ customerId, ...page }, options));
    },

    watch(bookingNumber, options = {}) {
      return watchStream(bookingNumber, options);
    },

    watchSeatMap(screeningId, options = {}) {
      return stream((signal) => services.seats.watchSeatMap({ screeningId }, { signal }), options.signal);
    },

    services,
    transport,
    close,
  };
}

function buildTransport(options: ClientOptions): { transport: Transport; close: () => void } {
  const kind = options.transport ?? "grpc-web";
  const built =
    kind === "grpc-web"
      ? { transport: createGrpcWebTransport({ baseUrl: options.baseUrl }), close: () => {} }
      : kind === "grpc"
        ? grpcTransport(options.baseUrl)
        : { transport: kind, close: () => {} };
  return { ...built, transport: withToken(built.transport, options.token) };
}

/** Adds `authorization: Bearer <token>` to every call of `inner`. */
function withToken(inner: Transport, token: TokenSource | undefined): Transport {
  if (token === undefined) return inner;
  const headers = async (init: HeadersInit | undefined) => {
    const header = new Headers(init);
    header.set("authorization", `Bearer ${typeof token === "function" ? await token() : token}`);
    return header;
  };
  return {
    async unary(method, signal, timeoutMs, header, input, contextValues) {
      return inner.unary(method, signal, timeoutMs, await headers(header), input, contextValues);
    },
    async stream(method, signal, timeoutMs, header, input, contextValues) {
      return inner.stream(method, signal, timeoutMs, await headers(header), input, contextValues);
    },
  };
}

/** Runs a call, mapping what it throws to CinemaError. */
async function call<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    throw CinemaError.from(e);
  }
}

/**
 * Runs `attempt` until it succeeds, fails with an error not worth retrying, or
 * the policy's attempts or deadline run out. Each attempt gets the time left.
 */
async function retrying<T>(
  policy: RetryPolicy,
  signal: AbortSignal | undefined,
  attempt: (timeoutMs: number) => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + policy.deadlineMs;
  for (let n = 1; ; n++) {
    try {
      return await attempt(Math.max(1, deadline - Date.now()));
    } catch (e) {
      const err = CinemaError.from(e);
      if (!isRetryable(err) || n >= policy.maxAttempts) throw err;
      const wait = backoffMs(n, policy, err.retryDelayMs);
      if (Date.now() + wait >= deadline) throw err;
      await delay(wait, signal);
    }
  }
}

/**
 * A server stream as an async generator: errors become CinemaError, and the
 * call is cancelled when the consumer stops early (break, return, throw) or
 * after `timeoutMs`. The deadline is kept here rather than passed to connect,
 * whose timer outlives a stream cancelled early and would hold the process open.
 */
async function* stream<T>(
  open: (signal: AbortSignal) => AsyncIterable<T>,
  outer: AbortSignal | undefined,
  timeoutMs?: number,
): AsyncGenerator<T> {
  const controller = new AbortController();
  const onAbort = () => controller.abort(outer?.reason);
  if (outer?.aborted) onAbort();
  outer?.addEventListener("abort", onAbort, { once: true });
  let expired = false;
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          expired = true;
          controller.abort();
        }, timeoutMs);
  try {
    for await (const message of open(controller.signal)) yield message;
  } catch (e) {
    if (expired) throw new CinemaError(Code.DeadlineExceeded, `no end of stream within ${timeoutMs} ms`);
    throw CinemaError.from(e);
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener("abort", onAbort);
    controller.abort();
  }
}
