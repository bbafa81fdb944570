// The hand-written layer against an in-process fake of the gateway
// (connect's router transport): no stack needed. `npm run test:unit`.

import { test } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { ConnectError, createRouterTransport, type ConnectRouter } from "@connectrpc/connect";
import {
  BadRequestSchema,
  BookingQueryService,
  BookingSchema,
  BookingService,
  BookingStatus,
  CinemaError,
  Code,
  DEFAULT_RETRY,
  ErrorInfoSchema,
  RetryInfoSchema,
  backoffMs,
  createClient,
  type Booking,
  type BookTicketsRequest,
  type RetryPolicy,
} from "../src/index.js";

const fast: Partial<RetryPolicy> = { initialBackoffMs: 5, maxBackoffMs: 20, deadlineMs: 5_000 };

/** A fake gateway whose BookTickets fails with `failures` first, then answers PENDING. */
function fakeGateway(opts: {
  failures?: ConnectError[];
  views?: BookingStatus[];
  watchFailures?: ConnectError[];
  routes?: (router: ConnectRouter) => void;
}) {
  const seen: { requests: BookTicketsRequest[]; authorization: (string | null)[] } = {
    requests: [],
    authorization: [],
  };
  const failures = [...(opts.failures ?? [])];
  const watchFailures = [...(opts.watchFailures ?? [])];
  const booking = (status: BookingStatus): Booking =>
    create(BookingSchema, { bookingNumber: "BK000000000001", status, reason: "" });
  const transport = createRouterTransport((router) => {
    router.service(BookingService, {
      bookTickets(req, ctx) {
        seen.requests.push(req);
        seen.authorization.push(ctx.requestHeader.get("authorization"));
        const failure = failures.shift();
        if (failure) throw failure;
        return { bookingNumber: "BK000000000001", status: BookingStatus.PENDING };
      },
      cancelBooking(req) {
        return { bookingNumber: req.bookingNumber, status: BookingStatus.CANCELLED };
      },
    });
    router.service(BookingQueryService, {
      async *watchBooking() {
        const failure = watchFailures.shift();
        if (failure) throw failure;
        for (const status of opts.views ?? [BookingStatus.PENDING, BookingStatus.CONFIRMED]) {
          yield booking(status);
        }
      },
    });
    opts.routes?.(router);
  });
  return { transport, seen };
}

const unavailable = () => new ConnectError("gateway restarting", Code.Unavailable);
const busy = (retryDelayMs: number) =>
  new ConnectError("screening is busy", Code.ResourceExhausted, undefined, [
    {
      desc: RetryInfoSchema,
      value: { retryDelay: { seconds: 0n, nanos: retryDelayMs * 1_000_000 } },
    },
  ]);

test("book retries UNAVAILABLE with the same request id, then follows to CONFIRMED", async () => {
  const { transport, seen } = fakeGateway({ failures: [unavailable(), unavailable()] });
  const client = createClient({ baseUrl: "http://fake", transport, retry: fast });

  const booking = await client.book({ screeningId: "s-1", seatIds: ["A-1"], cardToken: "tok_visa" });

  assert.equal(booking.status, BookingStatus.CONFIRMED);
  assert.equal(seen.requests.length, 3);
  const ids = new Set(seen.requests.map((r) => r.requestId));
  assert.equal(ids.size, 1, "every attempt carries the first attempt's request id");
  assert.match([...ids][0]!, /^[0-9a-f-]{36}$/);
});

test("book honours RetryInfo on RESOURCE_EXHAUSTED", async () => {
  const { transport, seen } = fakeGateway({ failures: [busy(150)] });
  const client = createClient({ baseUrl: "http://fake", transport, retry: fast });

  const started = Date.now();
  await client.book({ screeningId: "s-1", seatIds: ["A-1"], cardToken: "tok_visa", requestId: "r-1" });

  assert.ok(Date.now() - started >= 150, "waited at least the server's retry delay");
  assert.deepEqual(seen.requests.map((r) => r.requestId), ["r-1", "r-1"]);
});

test("RESOURCE_EXHAUSTED without RetryInfo, and bad input, are not retried", async () => {
  for (const failure of [
    new ConnectError("rate limited", Code.ResourceExhausted),
    new ConnectError("bad", Code.InvalidArgument),
  ]) {
    const { transport, seen } = fakeGateway({ failures: [failure] });
    const client = createClient({ baseUrl: "http://fake", transport, retry: fast });
    await assert.rejects(
      client.book({ screeningId: "s-1", seatIds: ["A-1"], cardToken: "tok_visa" }),
      (err: unknown) => err instanceof CinemaError && err.code === failure.code,
    );
    assert.equal(seen.requests.length, 1);
  }
});

test("retries stop after maxAttempts with the last error", async () => {
  const { transport, seen } = fakeGateway({ failures: Array.from({ length: 10 }, unavailable) });
  const client = createClient({ baseUrl: "http://fake", transport, retry: { ...fast, maxAttempts: 3 } });
  await assert.rejects(
    client.book({ screeningId: "s-1", seatIds: ["A-1"], cardToken: "tok_visa" }),
    (err: unknown) => err instanceof CinemaError && err.code === Code.Unavailable,
  );
  assert.equal(seen.requests.length, 3);
});

test("CinemaError carries ErrorInfo, BadRequest and RetryInfo", async () => {
  const failure = new ConnectError("2 fields are invalid", Code.InvalidArgument, undefined, [
    { desc: ErrorInfoSchema, value: { reason: "INVALID_REQUEST", domain: "cinema", metadata: { n: "2" } } },
    {
      desc: BadRequestSchema,
      value: {
        fieldViolations: [
          { field: "seat_ids", description: "one to ten seats" },
          { field: "screening_id", description: "not a screening id" },
        ],
      },
    },
    { desc: RetryInfoSchema, value: { retryDelay: { seconds: 1n, nanos: 500_000_000 } } },
  ]);
  const { transport } = fakeGateway({ failures: [failure] });
  const client = createClient({ baseUrl: "http://fake", transport });

  const err = await client
    .book({ screeningId: "x", seatIds: [], cardToken: "tok_visa" })
    .then(() => assert.fail("book should fail"), (e: unknown) => e);

  assert.ok(err instanceof CinemaError);
  assert.equal(err.code, Code.InvalidArgument);
  assert.equal(err.codeName, "InvalidArgument");
  assert.equal(err.message, "2 fields are invalid");
  assert.equal(err.reason, "INVALID_REQUEST");
  assert.deepEqual(err.metadata, { n: "2" });
  assert.deepEqual(err.fieldViolations, [
    { field: "seat_ids", description: "one to ten seats" },
    { field: "screening_id", description: "not a screening id" },
  ]);
  assert.equal(err.retryDelayMs, 1_500);
});

test("the token function is asked before every call", async () => {
  const { transport, seen } = fakeGateway({ failures: [unavailable()] });
  let n = 0;
  const client = createClient({ baseUrl: "http://fake", transport, retry: fast, token: async () => `t${++n}` });
  await client.book({ screeningId: "s-1", seatIds: ["A-1"], cardToken: "tok_visa" });
  assert.deepEqual(seen.authorization, ["Bearer t1", "Bearer t2"]);
});

test("following retries a booking the record does not have yet", async () => {
  const { transport } = fakeGateway({
    watchFailures: [new ConnectError("booking BK000000000001 does not exist", Code.NotFound), unavailable()],
  });
  const client = createClient({ baseUrl: "http://fake", transport, retry: fast });
  const booking = await client.book({ screeningId: "s-1", seatIds: ["A-1"], cardToken: "tok_visa" });
  assert.equal(booking.status, BookingStatus.CONFIRMED);
});

test("cancel waits past a stale CONFIRMED view for CANCELLED", async () => {
  const { transport } = fakeGateway({
    views: [BookingStatus.CONFIRMED, BookingStatus.CANCELLING, BookingStatus.CANCELLED],
  });
  const client = createClient({ baseUrl: "http://fake", transport });
  const booking = await client.cancel("BK000000000001", "plans changed");
  assert.equal(booking.status, BookingStatus.CANCELLED);
});

test("following gives up at followTimeoutMs when the booking never settles", async () => {
  const { transport } = fakeGateway({ views: [BookingStatus.AWAITING_PAYMENT] });
  const client = createClient({ baseUrl: "http://fake", transport, retry: fast, followTimeoutMs: 200 });
  await assert.rejects(
    client.book({ screeningId: "s-1", seatIds: ["A-1"], cardToken: "tok_visa" }),
    (err: unknown) =>
      err instanceof CinemaError &&
      err.code === Code.DeadlineExceeded &&
      /still AWAITING_PAYMENT/.test(err.message),
  );
});

test("backoff doubles up to the cap, with jitter in its upper half", () => {
  const policy = { ...DEFAULT_RETRY, initialBackoffMs: 100, maxBackoffMs: 1_000 };
  assert.equal(backoffMs(1, policy, undefined, () => 0), 50);
  assert.equal(backoffMs(1, policy, undefined, () => 1), 100);
  assert.equal(backoffMs(3, policy, undefined, () => 1), 400);
  assert.equal(backoffMs(10, policy, undefined, () => 1), 1_000);
  assert.equal(backoffMs(1, policy, 3_000, () => 0), 3_000, "RetryInfo wins when longer");
});
