// The only module that talks to @cinema/client (gRPC-Web through the gateway).
// Views call these verbs and read the generated message types; every error they
// see is a CinemaError.

import {
  BookingStatus,
  CinemaError,
  Code,
  DEFAULT_RETRY,
  MovieStatus,
  backoffMs,
  createClient,
  isRetryable,
  type Booking,
  type BookingResult,
  type CinemaClient,
  type Movie,
  type Notification,
  type Points,
  type Screening,
  type SeatMap,
} from "@cinema/client";

export { BookingStatus, CinemaError, Code, SeatStatus, DeliveryStatus } from "@cinema/client";
export type { Booking, BookingResult, Movie, Money, Notification, Points, Screening, Seat, SeatMap } from "@cinema/client";

/** What a booking in flight tells the page before it has a booking number to follow. */
export type BookingProgress =
  | { kind: "retrying"; error: CinemaError; waitMs: number }
  | { kind: "accepted"; result: BookingResult };

/** A watch ends on its own only at these; CONFIRMED stays open (it may still be cancelled). */
const WATCH_ENDS = new Set([BookingStatus.REJECTED, BookingStatus.EXPIRED, BookingStatus.CANCELLED]);

export class Api {
  readonly #client: CinemaClient;

  constructor(gatewayUrl: string, token: string | undefined) {
    this.#client = createClient({ baseUrl: gatewayUrl, token, transport: "grpc-web" });
  }

  async movies(signal?: AbortSignal): Promise<Movie[]> {
    const { movies } = await call(() =>
      this.#client.services.screening.listMovies({ status: MovieStatus.RUNNING }, { signal }),
    );
    return movies;
  }

  async screenings(movieId: string, signal?: AbortSignal): Promise<Screening[]> {
    const { screenings } = await call(() => this.#client.services.screening.listScreenings({ movieId }, { signal }));
    return screenings;
  }

  /**
   * The seat map now and on every change, until `signal` aborts. Watches again
   * when the server ends the stream (an hour, a drain) or the gateway is briefly
   * unavailable; stops when the screening has started. Against a server without
   * WatchSeatMap it polls GetSeatMap every second.
   */
  async liveSeatMap(screeningId: string, onMap: (map: SeatMap) => void, signal: AbortSignal): Promise<void> {
    for (let attempt = 1; !signal.aborted; ) {
      const opened = Date.now();
      try {
        for await (const map of this.#client.watchSeatMap(screeningId, { signal })) {
          onMap(map);
          if (map.startsAt && Number(map.startsAt.seconds) * 1000 <= Date.now()) return;
        }
      } catch (e) {
        if (signal.aborted) return;
        const err = CinemaError.from(e);
        if (err.code === Code.Unimplemented) return this.#pollSeatMap(screeningId, onMap, signal);
        if (!isRetryable(err)) throw err;
      }
      attempt = Date.now() - opened > 10_000 ? 1 : attempt + 1;
      await delay(backoffMs(Math.min(attempt, 6), DEFAULT_RETRY), signal);
    }
  }

  async #pollSeatMap(screeningId: string, onMap: (map: SeatMap) => void, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        onMap(await this.#client.services.seats.getSeatMap({ screeningId }, { signal }));
      } catch (e) {
        if (signal.aborted) return;
        const err = CinemaError.from(e);
        if (!isRetryable(err)) throw err;
      }
      await delay(1_000, signal);
    }
  }

  /**
   * BookTickets with one request id for every attempt: UNAVAILABLE, and a busy
   * screening (RESOURCE_EXHAUSTED with RetryInfo), are retried within the SDK's
   * DEFAULT_RETRY bounds, and the page hears of each wait. Returns the first
   * answer; `followBooking` then shows the booking live.
   */
  async book(
    request: { screeningId: string; seatIds: string[]; cardToken: string },
    onProgress: (progress: BookingProgress) => void,
    signal?: AbortSignal,
  ): Promise<BookingResult> {
    const requestId = uuid();
    const deadline = Date.now() + DEFAULT_RETRY.deadlineMs;
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await this.#client.services.booking.bookTickets(
          {
            requestId,
            screeningId: request.screeningId,
            seatIds: request.seatIds,
            payment: { cardToken: request.cardToken },
          },
          { signal },
        );
        onProgress({ kind: "accepted", result });
        return result;
      } catch (e) {
        const err = CinemaError.from(e);
        const waitMs = backoffMs(attempt, DEFAULT_RETRY, err.retryDelayMs);
        if (!isRetryable(err) || attempt >= DEFAULT_RETRY.maxAttempts || Date.now() + waitMs >= deadline) throw err;
        onProgress({ kind: "retrying", error: err, waitMs });
        await delay(waitMs, signal);
      }
    }
  }

  /**
   * The booking now and on every change (WatchBooking), until it is REJECTED,
   * EXPIRED or CANCELLED or `signal` aborts. NOT_FOUND is waited out for
   * `notFoundGraceMs` (a booking answered PENDING may reach its record only
   * when its saga runs); otherwise it is thrown, like any refusal.
   */
  async followBooking(
    bookingNumber: string,
    onBooking: (booking: Booking) => void,
    signal: AbortSignal,
    notFoundGraceMs = 0,
  ): Promise<void> {
    const started = Date.now();
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        for await (const booking of this.#client.watch(bookingNumber, { signal })) {
          attempt = 1;
          onBooking(booking);
          if (WATCH_ENDS.has(booking.status)) return;
        }
      } catch (e) {
        if (signal.aborted) return;
        const err = CinemaError.from(e);
        const waiting = err.code === Code.NotFound && Date.now() - started < notFoundGraceMs;
        if (!waiting && !isRetryable(err)) throw err;
      }
      await delay(backoffMs(Math.min(attempt, 6), DEFAULT_RETRY), signal);
    }
  }

  getBooking(bookingNumber: string, signal?: AbortSignal): Promise<Booking> {
    return this.#client.getBooking(bookingNumber, { signal });
  }

  /** CancelBooking, then the booking once CANCELLED (the SDK follows it there). */
  cancel(bookingNumber: string): Promise<Booking> {
    return this.#client.cancel(bookingNumber, "cancelled by the customer on the web");
  }

  /** One page of the customer's bookings, newest first; `next` is empty on the last page. */
  async myBookings(
    customerId: string,
    pageToken: string,
    signal?: AbortSignal,
  ): Promise<{ bookings: Booking[]; next: string }> {
    const { bookings, nextPageToken } = await this.#client.listBookings(customerId, { pageSize: 20, pageToken }, { signal });
    return { bookings, next: nextPageToken };
  }

  points(customerId: string, signal?: AbortSignal): Promise<Points> {
    return call(() => this.#client.services.loyalty.getPoints({ customerId, pageSize: 20 }, { signal }));
  }

  async notifications(bookingNumber: string, signal?: AbortSignal): Promise<Notification[]> {
    const { notifications } = await call(() =>
      this.#client.services.notification.listNotifications({ bookingNumber }, { signal }),
    );
    return notifications;
  }
}

async function call<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    throw CinemaError.from(e);
  }
}

function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}

/** crypto.randomUUID needs a secure context; the page may be served over plain http on a LAN. */
function uuid(): string {
  if (typeof crypto.randomUUID === "function" && isSecureContext) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
