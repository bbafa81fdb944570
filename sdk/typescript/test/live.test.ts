// The client against a running stack (cargo xtask up), over both transports.
//
// Reads CINEMA_GATEWAY_URL (e.g. http://127.0.0.1:8080), CINEMA_TOKEN (a
// customer), CINEMA_OTHER_TOKEN (another customer) and CINEMA_ADMIN_TOKEN (role
// admin). Makes its own movie and screening, on a random future day, so its
// seats are its own.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  BookingStatus,
  CinemaError,
  Code,
  MovieStatus,
  SeatStatus,
  createClient,
  type CinemaClient,
  type Screening,
} from "../src/index.js";

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: the live tests need a running stack (see README.md)`);
  return value;
}

const baseUrl = env("CINEMA_GATEWAY_URL");
const token = env("CINEMA_TOKEN");
const clients: CinemaClient[] = [];
function client(transport: "grpc-web" | "grpc", token?: string): CinemaClient {
  const c = createClient({ baseUrl, transport, token });
  clients.push(c);
  return c;
}
const web = client("grpc-web", token);
const grpc = client("grpc", token);
const other = client("grpc-web", env("CINEMA_OTHER_TOKEN"));
const admin = client("grpc", env("CINEMA_ADMIN_TOKEN"));
const TIMEOUT = { timeout: 20_000 };

let screening: Screening;

/** A movie and a screening of it on a random day 30 to 3,000 days ahead, with its seats ready. */
before(async () => {
  const { screening: admin_ } = admin.services;
  const movie = await admin_.registerMovie({
    title: `SDK test ${crypto.randomUUID().slice(0, 8)}`,
    status: MovieStatus.RUNNING,
    runningMinutes: 90,
  });
  const day = 86_400_000;
  const startsAt = Date.now() + (30 + Math.floor(Math.random() * 2_970)) * day;
  screening = await admin_.scheduleScreening({
    movieId: movie.movieId,
    startsAt: timestampFromMs(Math.floor(startsAt / 60_000) * 60_000),
    price: { currency: "KRW", amount: 12_000n },
  });
  // The seats service builds the inventory from the ScreeningScheduled event.
  await until(async () => {
    const map = await web.services.seats.getSeatMap({ screeningId: screening.screeningId }).catch(() => null);
    return (map?.seats.length ?? 0) > 0;
  }, "the screening's seat inventory");
});

after(() => clients.forEach((c) => c.close()));

/** Polls `check` until it holds, for at most `ms`. */
async function until(check: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The `sub` of a JWT: the customer id. */
function subject(jwt: string): string {
  return JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString()).sub;
}

test("books over gRPC-Web: CONFIRMED, and watch reaches CONFIRMED", TIMEOUT, async () => {
  const booking = await web.book({ screeningId: screening.screeningId, seatIds: ["A-1", "A-2"], cardToken: "tok_visa" });

  assert.equal(booking.status, BookingStatus.CONFIRMED, booking.reason);
  assert.deepEqual([...booking.seatIds].sort(), ["A-1", "A-2"]);
  assert.match(booking.bookingNumber, /^BK/);
  assert.equal(booking.amount?.amount, 24_000n);

  for await (const seen of web.watch(booking.bookingNumber)) {
    if (seen.status === BookingStatus.CONFIRMED) break;
  }
});

test("books over gRPC (HTTP/2)", TIMEOUT, async () => {
  const booking = await grpc.book({ screeningId: screening.screeningId, seatIds: ["B-1", "B-2"], cardToken: "tok_visa" });
  assert.equal(booking.status, BookingStatus.CONFIRMED, booking.reason);
  const read = await grpc.getBooking(booking.bookingNumber);
  assert.equal(read.status, BookingStatus.CONFIRMED);
});

test("watchSeatMap shows booked seats SOLD", TIMEOUT, async () => {
  const seats = ["D-1", "D-2"];
  const status = (map: { seats: { seatId: string; status: SeatStatus }[] }) =>
    seats.map((id) => map.seats.find((s) => s.seatId === id)?.status);
  let booked: Promise<unknown> | undefined;
  for await (const map of web.watchSeatMap(screening.screeningId)) {
    if (!booked) {
      // The first map is the one before the booking.
      assert.deepEqual(status(map), [SeatStatus.AVAILABLE, SeatStatus.AVAILABLE]);
      booked = grpc.book({ screeningId: screening.screeningId, seatIds: seats, cardToken: "tok_visa" });
    }
    if (status(map).every((s) => s === SeatStatus.SOLD)) break;
  }
  assert.equal(((await booked) as { status: BookingStatus }).status, BookingStatus.CONFIRMED);
});

test("cancel ends CANCELLED", TIMEOUT, async () => {
  const booking = await web.book({ screeningId: screening.screeningId, seatIds: ["F-1"], cardToken: "tok_visa" });
  assert.equal(booking.status, BookingStatus.CONFIRMED, booking.reason);

  const cancelled = await web.cancel(booking.bookingNumber, "plans changed");

  assert.equal(cancelled.status, BookingStatus.CANCELLED);
  assert.equal((await web.getBooking(booking.bookingNumber)).status, BookingStatus.CANCELLED);
});

test("another customer's booking is NOT_FOUND", TIMEOUT, async () => {
  const booking = await web.book({ screeningId: screening.screeningId, seatIds: ["G-1"], cardToken: "tok_visa" });

  await assert.rejects(
    other.getBooking(booking.bookingNumber),
    (err: unknown) => err instanceof CinemaError && err.code === Code.NotFound,
  );
});

test("bad input is INVALID_ARGUMENT with its field violations", TIMEOUT, async () => {
  const err = await web
    .book({ screeningId: "not-a-screening", seatIds: [], cardToken: "tok_visa" })
    .then(() => assert.fail("book should fail"), (e: unknown) => e);

  assert.ok(err instanceof CinemaError, String(err));
  assert.equal(err.code, Code.InvalidArgument);
  const fields = err.fieldViolations.map((v) => v.field);
  assert.ok(fields.some((f) => /seat/i.test(f)), `a seat ids violation in ${JSON.stringify(err.fieldViolations)}`);
  assert.ok(fields.some((f) => /screening/i.test(f)), `a screening id violation in ${JSON.stringify(err.fieldViolations)}`);
  assert.ok(err.fieldViolations.every((v) => v.description.length > 0));
});

test("a declined card ends REJECTED with a reason", TIMEOUT, async () => {
  const booking = await web.book({ screeningId: screening.screeningId, seatIds: ["C-1"], cardToken: "tok_decline" });
  assert.equal(booking.status, BookingStatus.REJECTED);
  assert.notEqual(booking.reason, "");
});

test("a repeated request id is the same booking", TIMEOUT, async () => {
  const request = {
    screeningId: screening.screeningId,
    seatIds: ["E-1"],
    cardToken: "tok_visa",
    requestId: crypto.randomUUID(),
  };
  const first = await web.book(request);
  const again = await grpc.book(request);
  assert.equal(first.status, BookingStatus.CONFIRMED, first.reason);
  assert.equal(again.bookingNumber, first.bookingNumber);
  assert.equal(again.status, BookingStatus.CONFIRMED);
});

test("listBookings pages the customer's bookings", TIMEOUT, async () => {
  const booking = await grpc.book({ screeningId: screening.screeningId, seatIds: ["H-1"], cardToken: "tok_visa" });
  const page = await grpc.listBookings(subject(token), { pageSize: 5 });
  assert.ok(page.bookings.length <= 5);
  assert.equal(page.bookings[0]?.bookingNumber, booking.bookingNumber, "newest first");
});
