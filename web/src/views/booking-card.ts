// One booking as a card: its status in words (a countdown while payment is
// retried, the reason when refused), and, when asked, cancel and the
// notifications sent. Pages feed it booking updates as they arrive.

import { BookingStatus, type Booking, type BookingResult } from "../api.js";
import { h, replace } from "../dom.js";
import { rejection } from "../errors.js";
import { countdown, dateTime, money, t, toDate } from "../i18n.js";
import type { Ctx } from "../main.js";

/** What BookTickets answers and what WatchBooking streams share. */
export type BookingLike = Pick<BookingResult, "bookingNumber" | "status" | "reason" | "seatIds" | "amount" | "holdExpiresAt"> &
  Omit<Partial<Booking>, "$typeName">;

export interface BookingCard {
  el: HTMLElement;
  update(booking: BookingLike): void;
}

export function bookingCard(
  ctx: Ctx,
  first: BookingLike,
  options: { actions: boolean; headingLevel?: "h2" | "h3"; showNotifications?: boolean },
): BookingCard {
  const m = t();
  let booking: BookingLike = first;
  let ticking: ReturnType<typeof setInterval> | undefined;
  ctx.signal.addEventListener("abort", () => clearInterval(ticking));

  const el = h("article", { class: "booking-card" });
  const head = h(options.headingLevel ?? "h3", { class: "booking-title" });
  const badge = h("span", { class: "badge" });
  const facts = h("dl", { class: "facts" });
  const hint = h("p", { class: "hint" });
  const problem = h("div", { class: "notice-slot" });
  const actions = h("div", { class: "actions" });
  const notes = h("div", { class: "notifications" });
  el.append(h("header", null, badge, head), facts, hint, problem, actions, notes);

  function update(next: BookingLike): void {
    // A newer version only: a stream re-opened after a blip starts from the current state.
    if (next.version !== undefined && booking.version !== undefined && next.version < booking.version) return;
    booking = { ...booking, ...next, movieTitle: next.movieTitle || booking.movieTitle };
    const status = booking.status;
    const name = BookingStatus[status] ?? "UNSPECIFIED";
    el.dataset.booking = booking.bookingNumber;
    el.dataset.status = name;
    badge.className = `badge status-${name.toLowerCase()}`;
    badge.textContent = m.statusName[status] ?? name;
    head.textContent = booking.movieTitle || m.bookingTitle(booking.bookingNumber);
    replace(
      facts,
      fact(m.bookingNumber, h("a", { href: `#/bookings/${encodeURIComponent(booking.bookingNumber)}`, class: "number" }, booking.bookingNumber)),
      booking.startsAt ? fact(m.when, [dateTime(booking.startsAt), booking.screenName].filter(Boolean).join(" · ")) : null,
      fact(m.seats, booking.seatIds.join(", ")),
      booking.amount ? fact(m.amount, money(booking.amount)) : null,
    );
    renderHint();
    if (options.actions) renderActions();
  }

  function renderHint(): void {
    clearInterval(ticking);
    const { status, reason } = booking;
    hint.className = `hint hint-${(BookingStatus[status] ?? "").toLowerCase()}`;
    switch (status) {
      case BookingStatus.PENDING:
        hint.textContent = m.pendingHint;
        break;
      case BookingStatus.AWAITING_PAYMENT: {
        const until = toDate(booking.holdExpiresAt)?.getTime();
        const tick = () => {
          if (until === undefined) return void (hint.textContent = m.pendingHint);
          const left = until - Date.now();
          replace(hint, left > 0 ? m.holdCountdown(countdown(left)) : m.holdOver);
          hint.append(reason ? h("span", { class: "reason" }, m.reasonDetail(reason)) : "");
        };
        tick();
        ticking = setInterval(tick, 1000);
        break;
      }
      case BookingStatus.CONFIRMED:
        hint.textContent = m.confirmedHint;
        break;
      case BookingStatus.REJECTED:
        replace(hint, rejection(reason), reason ? h("span", { class: "reason" }, m.reasonDetail(reason)) : null);
        break;
      case BookingStatus.EXPIRED:
        hint.textContent = m.expiredHint;
        break;
      case BookingStatus.CANCELLING:
        hint.textContent = m.cancellingHint;
        break;
      case BookingStatus.CANCELLED:
        hint.textContent = m.cancelledHint;
        break;
      default:
        hint.textContent = "";
    }
  }

  function renderActions(): void {
    if (actions.querySelector(".confirm")) return; // the customer is answering "cancel?"
    replace(
      actions,
      booking.status === BookingStatus.CONFIRMED
        ? h("button", { type: "button", class: "danger", "data-action": "cancel", onclick: askCancel }, m.cancel)
        : null,
      h(
        "button",
        { type: "button", class: "secondary", "data-action": "notifications", "aria-expanded": "false", onclick: toggleNotes },
        m.showNotifications,
      ),
    );
  }

  function askCancel(): void {
    const no = h("button", { type: "button", class: "secondary", onclick: () => { replace(actions); renderActions(); } }, m.cancelNo);
    const yes = h("button", { type: "button", class: "danger", "data-action": "cancel-yes", onclick: doCancel }, m.cancelYes);
    replace(actions, h("div", { class: "confirm", role: "group", "aria-label": m.cancel }, h("p", null, m.cancelConfirm), yes, no));
    yes.focus();
  }

  async function doCancel(): Promise<void> {
    replace(actions);
    replace(problem);
    update({ ...booking, status: BookingStatus.CANCELLING, version: undefined });
    try {
      update({ ...(await ctx.api.cancel(booking.bookingNumber)), version: undefined });
      ctx.announce(m.cancelled(booking.bookingNumber));
    } catch (e) {
      ctx.fail(problem, e, "booking");
      ctx.api
        .getBooking(booking.bookingNumber)
        .then((b) => update({ ...b, version: undefined }))
        .catch(() => {});
    }
  }

  async function toggleNotes(event: Event): Promise<void> {
    const button = event.currentTarget as HTMLButtonElement;
    if (button.getAttribute("aria-expanded") === "true") {
      button.setAttribute("aria-expanded", "false");
      button.textContent = m.showNotifications;
      return replace(notes);
    }
    button.setAttribute("aria-expanded", "true");
    button.textContent = m.hideNotifications;
    await loadNotes();
  }

  async function loadNotes(): Promise<void> {
    replace(notes, h("p", { class: "muted" }, m.loading));
    try {
      const list = await ctx.api.notifications(booking.bookingNumber, ctx.signal);
      replace(
        notes,
        h("h4", null, m.notifications),
        list.length === 0
          ? h("p", { class: "muted" }, m.noNotifications)
          : h(
              "ul",
              { class: "note-list" },
              list.map((n) =>
                h(
                  "li",
                  null,
                  h("span", { class: `badge status-${(BookingStatus[n.bookingStatus] ?? "").toLowerCase()}` }, m.statusName[n.bookingStatus] ?? ""),
                  h("span", { class: "note-text" }, n.text),
                  h("span", { class: "muted" }, [n.channel, m.delivery[n.status], dateTime(n.createdAt)].filter(Boolean).join(" · ")),
                ),
              ),
            ),
      );
    } catch (e) {
      if (!ctx.signal.aborted) ctx.fail(notes, e, "booking");
    }
  }

  update(first);
  if (options.showNotifications) void loadNotes();
  return { el, update };
}

function fact(term: string, value: Node | string): HTMLElement[] {
  return [h("dt", null, term), h("dd", null, value)];
}
