// My bookings (ListBookings), points (LoyaltyService), looking a booking up by
// its number, and one booking live (WatchBooking) with cancel and notifications.

import { BookingStatus, CinemaError, Code, type Booking } from "../api.js";
import { h, replace } from "../dom.js";
import { dateTime, points, t } from "../i18n.js";
import type { Ctx } from "../main.js";
import { bookingCard } from "./booking-card.js";

/** Statuses still on their way somewhere: their cards follow the booking live. */
const MOVING = new Set([BookingStatus.PENDING, BookingStatus.AWAITING_PAYMENT, BookingStatus.CANCELLING]);

export function renderMyBookings(ctx: Ctx, main: HTMLElement): void {
  if (!ctx.requireSignIn()) return;
  const m = t();
  const customerId = ctx.session!.customerId;
  const list = h("div", { class: "booking-list", "aria-busy": "true" }, h("p", { class: "muted" }, m.loading));
  const more = h("div", { class: "more" });
  const pointsBox = h("div", { class: "points-body" }, h("p", { class: "muted" }, m.loading));
  replace(
    main,
    h("h1", { class: "page-title" }, m.myBookings),
    h(
      "div",
      { class: "side-by-side" },
      h("section", { class: "card points", "aria-labelledby": "points-title" }, h("h2", { id: "points-title" }, m.points), pointsBox),
      lookupForm(ctx),
    ),
    h("section", { "aria-labelledby": "list-title" }, h("h2", { id: "list-title", class: "sr-only" }, m.myBookings), list, more),
  );

  const page = (token: string) =>
    ctx.api.myBookings(customerId, token, ctx.signal).then(
      ({ bookings, next }) => {
        list.removeAttribute("aria-busy");
        if (!token) replace(list);
        if (!token && bookings.length === 0) replace(list, h("p", { class: "muted empty" }, m.noBookings));
        for (const b of bookings) {
          const card = bookingCard(ctx, b, { actions: true });
          if (MOVING.has(b.status)) void ctx.api.followBooking(b.bookingNumber, card.update, ctx.signal).catch(() => {});
          list.append(card.el);
        }
        replace(more, next ? h("button", { type: "button", class: "secondary", onclick: () => page(next) }, m.more) : null);
      },
      (e) => ctx.signal.aborted || ctx.fail(more, e),
    );
  void page("");

  ctx.api.points(customerId, ctx.signal).then(
    (p) =>
      replace(
        pointsBox,
        h("p", { class: "balance", "data-balance": String(p.balance) }, m.pointsBalance(points(p.balance))),
        h("h3", { class: "small-title" }, m.pointsHistory),
        p.history.length === 0
          ? h("p", { class: "muted" }, m.noPoints)
          : h(
              "ul",
              { class: "ledger" },
              p.history.map((entry) =>
                h(
                  "li",
                  null,
                  h("span", null, entry.reason || entry.bookingNumber, h("small", { class: "muted" }, ` ${dateTime(entry.createdAt)}`)),
                  h("strong", { class: entry.points < 0n ? "minus" : "plus" }, `${entry.points > 0n ? "+" : ""}${points(entry.points)}`),
                ),
              ),
            ),
      ),
    (e) => ctx.signal.aborted || ctx.fail(pointsBox, e),
  );
}

export function renderBooking(ctx: Ctx, main: HTMLElement, bookingNumber: string): void {
  if (!ctx.requireSignIn()) return;
  const m = t();
  const body = h("div", { class: "booking-detail", "aria-live": "polite" }, h("p", { class: "muted" }, m.loading));
  replace(
    main,
    h("a", { class: "back", href: "#/bookings" }, `← ${m.myBookings}`),
    h("h1", { class: "page-title" }, m.bookingTitle(bookingNumber)),
    body,
    lookupForm(ctx, bookingNumber),
  );
  let card: ReturnType<typeof bookingCard> | undefined;
  const show = (b: Booking) => {
    if (card) return card.update(b);
    card = bookingCard(ctx, b, { actions: true, headingLevel: "h2", showNotifications: true });
    replace(body, card.el);
  };
  ctx.api
    .getBooking(bookingNumber, ctx.signal)
    .then((b) => {
      show(b);
      return ctx.api.followBooking(bookingNumber, show, ctx.signal);
    })
    .catch((e) => {
      if (ctx.signal.aborted) return;
      // Someone else's booking answers NOT_FOUND, exactly like an unknown number.
      if (CinemaError.from(e).code === Code.NotFound)
        return replace(body, h("p", { class: "problem", role: "alert", "data-refused": "" }, m.lookupNotFound(bookingNumber)));
      ctx.fail(body, e, "booking");
    });
}

function lookupForm(ctx: Ctx, value = ""): HTMLElement {
  const m = t();
  const input = h("input", {
    id: "lookup",
    name: "booking-number",
    required: true,
    autocomplete: "off",
    spellcheck: "false",
    value,
    placeholder: "BK…",
  });
  return h(
    "section",
    { class: "card lookup", "aria-labelledby": "lookup-title" },
    h("h2", { id: "lookup-title" }, m.lookupTitle),
    h(
      "form",
      {
        onsubmit: (event: Event) => {
          event.preventDefault();
          const number = input.value.trim();
          if (number) ctx.go(`#/bookings/${encodeURIComponent(number)}`);
        },
      },
      h("label", { for: "lookup" }, m.lookupLabel),
      h("div", { class: "inline" }, input, h("button", { type: "submit", class: "primary" }, m.lookupButton)),
    ),
  );
}
