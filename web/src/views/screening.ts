// One screening: the live seat map (WatchSeatMap), picking up to ten seats,
// paying with a test card, then the booking's status live (WatchBooking).
//
// The map is built once and updated in place on every SeatMap, so keyboard
// focus stays on the seat it was on. Seats are buttons in one tab stop: the
// arrow keys move between them (a roving tabindex), Enter or Space picks.

import { BookingStatus, SeatStatus, type Money, type Seat, type SeatMap } from "../api.js";
import { h, replace } from "../dom.js";
import type { Problem } from "../errors.js";
import { dateTime, money, t } from "../i18n.js";
import type { Ctx } from "../main.js";
import { bookingCard, type BookingCard } from "./booking-card.js";

const MAX_SEATS = 10;
const CARDS = ["tok_visa", "tok_decline"] as const;

/** Picks survive a language switch or a detour through sign-in. */
const picks = new Map<string, Set<string>>();

type State = "available" | "held" | "sold" | "selected";

export function renderScreening(ctx: Ctx, main: HTMLElement, screeningId: string): void {
  const m = t();
  const selected = picks.get(screeningId) ?? new Set<string>();
  picks.set(screeningId, selected);
  let map: SeatMap | undefined;
  let card: (typeof CARDS)[number] = "tok_visa";
  let busyUntil = 0;
  let booking = false;
  let cheapestSeat = 0n;
  const buttons = new Map<string, HTMLButtonElement>();

  const title = h("h1", { class: "page-title" }, m.loading);
  const meta = h("p", { class: "meta" });
  const liveBadge = h("span", { class: "live", title: m.liveHint }, h("span", { class: "dot", "aria-hidden": "true" }), m.live);
  const grid = h("div", { class: "seatmap", role: "group", "aria-label": m.seatMapLabel, onkeydown: onArrow });
  const prices = h("ul", { class: "row-prices" });
  const mapProblem = h("div", { class: "notice-slot" });
  const chosen = h("p", { class: "chosen", "data-chosen": "" });
  const total = h("p", { class: "total" });
  const bookButton = h("button", { type: "button", class: "primary book", onclick: book });
  const orderProblem = h("div", { class: "notice-slot", "data-order-problem": "" });
  const progress = h("p", { class: "progress", role: "status" });
  const status = h("div", { class: "booking-status", "aria-live": "polite" });
  const followProblem = h("div", { class: "notice-slot" });

  replace(
    main,
    h("a", { class: "back", href: "#/" }, m.backToMovies),
    h("div", { class: "screening-head" }, title, liveBadge),
    meta,
    mapProblem,
    h(
      "div",
      { class: "screening" },
      h(
        "section",
        { class: "card map-card", "aria-labelledby": "map-title" },
        h("h2", { id: "map-title", class: "sr-only" }, m.seatMapLabel),
        h("div", { class: "screen-bar", "aria-hidden": "true" }, m.screen),
        grid,
        legend(),
        h("h3", { class: "small-title" }, m.rowPrices),
        prices,
      ),
      h(
        "section",
        { class: "card order", "aria-labelledby": "order-title" },
        h("h2", { id: "order-title" }, m.yourSeats),
        chosen,
        total,
        h(
          "fieldset",
          { class: "cards" },
          h("legend", null, m.card),
          CARDS.map((token) =>
            h(
              "label",
              { class: "radio" },
              h("input", {
                type: "radio",
                name: "card",
                value: token,
                checked: token === card,
                onchange: () => (card = token),
              }),
              token === "tok_visa" ? m.cardVisa : m.cardDecline,
            ),
          ),
          h("p", { class: "muted small" }, m.testCards),
        ),
        bookButton,
        progress,
        orderProblem,
        status,
      ),
    ),
  );
  renderOrder();

  ctx.api
    .liveSeatMap(screeningId, onMap, ctx.signal)
    .catch((e) => ctx.signal.aborted || ctx.fail(mapProblem, e, "screening"));

  function onMap(next: SeatMap): void {
    const first = map === undefined;
    map = next;
    if (first) {
      title.textContent = next.movieTitle;
      meta.textContent = [dateTime(next.startsAt), next.screenName].filter(Boolean).join(" · ");
      cheapestSeat = next.seats.reduce((low, s) => {
        const amount = s.price?.amount ?? 0n;
        return amount < low ? amount : low;
      }, next.seats[0]?.price?.amount ?? 0n);
      buildGrid(next.seats);
      renderPrices(next.seats);
    }
    meta.dataset.available = String(next.available);
    meta.textContent = [dateTime(next.startsAt), next.screenName, m.availableCount(next.available)].filter(Boolean).join(" · ");
    const gone: string[] = [];
    for (const seat of next.seats) {
      if (seat.status !== SeatStatus.AVAILABLE && selected.delete(seat.seatId)) gone.push(seat.seatId);
      paint(seat);
    }
    if (gone.length && !booking) {
      ctx.announce(m.seatGone(gone.join(", ")));
      replace(orderProblem, h("p", { class: "problem", role: "alert" }, m.seatGone(gone.join(", "))));
    }
    renderOrder();
  }

  function buildGrid(seats: Seat[]): void {
    const rows = new Map<string, Seat[]>();
    for (const seat of seats) rows.set(seat.row, [...(rows.get(seat.row) ?? []), seat]);
    const width = Math.max(...[...rows.values()].map((r) => r.length));
    grid.style.setProperty("--cols", String(width));
    replace(
      grid,
      [...rows].map(([row, list]) =>
        h(
          "div",
          { class: "seat-row", role: "group", "aria-label": m.rows(row, row) },
          h("span", { class: "row-label", "aria-hidden": "true" }, row),
          list
            .sort((a, b) => a.number - b.number)
            .map((seat) => {
              const button = h(
                "button",
                { type: "button", class: "seat", "data-seat": seat.seatId, tabindex: "-1", onclick: () => toggle(seat.seatId) },
                String(seat.number),
              );
              buttons.set(seat.seatId, button);
              return button;
            }),
          h("span", { class: "row-label", "aria-hidden": "true" }, row),
        ),
      ),
    );
    const first = buttons.values().next().value;
    if (first) first.tabIndex = 0;
  }

  function paint(seat: Seat): void {
    const button = buttons.get(seat.seatId);
    if (!button) return;
    const state: State =
      seat.status === SeatStatus.SOLD
        ? "sold"
        : seat.status === SeatStatus.HELD
          ? "held"
          : selected.has(seat.seatId)
            ? "selected"
            : "available";
    button.dataset.state = state;
    button.dataset.price = String(seat.price?.amount ?? "");
    button.classList.toggle("premium", (seat.price?.amount ?? 0n) > cheapestSeat);
    button.setAttribute("aria-pressed", String(state === "selected"));
    if (state === "held" || state === "sold") button.setAttribute("aria-disabled", "true");
    else button.removeAttribute("aria-disabled");
    const words = { available: m.seatAvailable, held: m.seatHeld, sold: m.seatSold, selected: m.seatSelected }[state];
    button.setAttribute("aria-label", `${m.seatLabel(seat.row, seat.number)}, ${money(seat.price)}, ${words}`);
  }

  function toggle(seatId: string): void {
    const seat = map?.seats.find((s) => s.seatId === seatId);
    if (!seat || booking) return;
    replace(orderProblem);
    if (seat.status !== SeatStatus.AVAILABLE) {
      ctx.announce(m.seatUnavailable(seatId));
      return;
    }
    if (selected.has(seatId)) selected.delete(seatId);
    else if (selected.size >= MAX_SEATS) {
      replace(orderProblem, h("p", { class: "problem", role: "alert" }, m.maxSeats(MAX_SEATS)));
      return;
    } else selected.add(seatId);
    paint(seat);
    renderOrder();
  }

  function onArrow(event: KeyboardEvent): void {
    const current = event.target as HTMLElement;
    if (!current.dataset.seat) return;
    const row = current.parentElement!;
    const inRow = [...row.querySelectorAll<HTMLButtonElement>("button.seat")];
    const rows = [...grid.querySelectorAll<HTMLElement>(".seat-row")];
    const col = inRow.indexOf(current as HTMLButtonElement);
    const r = rows.indexOf(row);
    const at = (ri: number, ci: number) => {
      const seats = rows[ri]?.querySelectorAll<HTMLButtonElement>("button.seat");
      return seats ? seats[Math.min(ci, seats.length - 1)] : undefined;
    };
    const target = {
      ArrowLeft: inRow[col - 1],
      ArrowRight: inRow[col + 1],
      ArrowUp: at(r - 1, col),
      ArrowDown: at(r + 1, col),
      Home: inRow[0],
      End: inRow[inRow.length - 1],
    }[event.key];
    if (!target) return;
    event.preventDefault();
    current.tabIndex = -1;
    target.tabIndex = 0;
    target.focus();
  }

  function renderPrices(seats: Seat[]): void {
    // Consecutive rows with one price read as one line: "A–H열 ₩12,000".
    const rowPrice = new Map<string, Money | undefined>();
    for (const seat of seats) if (!rowPrice.has(seat.row)) rowPrice.set(seat.row, seat.price);
    const bands: { from: string; to: string; price?: Money }[] = [];
    for (const [row, price] of rowPrice) {
      const last = bands[bands.length - 1];
      if (last && last.price?.amount === price?.amount) last.to = row;
      else bands.push({ from: row, to: row, price });
    }
    const cheapest = bands.reduce((a, b) => (Number(b.price?.amount ?? 0) < a ? Number(b.price?.amount ?? 0) : a), Infinity);
    replace(
      prices,
      bands.map((b) =>
        h(
          "li",
          { class: Number(b.price?.amount ?? 0) > cheapest ? "premium" : null },
          h("span", null, m.rows(b.from, b.to)),
          h("strong", null, money(b.price)),
        ),
      ),
    );
  }

  function renderOrder(): void {
    const seats = [...selected].sort(bySeat);
    const sum = seats.reduce((acc, id) => acc + (map?.seats.find((s) => s.seatId === id)?.price?.amount ?? 0n), 0n);
    const currency = map?.seats[0]?.price?.currency ?? "KRW";
    chosen.textContent = seats.length ? seats.join(", ") : m.noSeatsYet;
    total.textContent = seats.length ? `${m.total} ${money({ currency, amount: sum } as Money)}` : "";
    const waiting = busyUntil > Date.now();
    bookButton.disabled = booking || seats.length === 0 || waiting;
    bookButton.textContent = !ctx.session
      ? m.signInToBook
      : seats.length
        ? m.book(seats.length, money({ currency, amount: sum } as Money))
        : m.bookNothing;
    if (!ctx.session) bookButton.disabled = seats.length === 0;
  }

  async function book(): Promise<void> {
    if (!ctx.requireSignIn()) return;
    const seatIds = [...selected].sort(bySeat);
    booking = true;
    renderOrder();
    replace(orderProblem);
    replace(status);
    progress.textContent = m.booking;
    let live: BookingCard | undefined;
    try {
      const result = await ctx.api.book({ screeningId, seatIds, cardToken: card }, (p) => {
        if (p.kind === "retrying")
          progress.textContent = p.error.retryDelayMs !== undefined
            ? m.busyRetrying(Math.ceil(p.waitMs / 1000))
            : m.unavailableRetrying;
      });
      progress.textContent = "";
      selected.clear();
      live = bookingCard(ctx, { ...result, movieTitle: map?.movieTitle, startsAt: map?.startsAt, screenName: map?.screenName }, {
        actions: false,
        headingLevel: "h3",
      });
      replace(
        status,
        live.el,
        h("a", { class: "button secondary", href: `#/bookings/${encodeURIComponent(result.bookingNumber)}` }, m.viewBooking),
        followProblem,
      );
      ctx.announce(`${m.bookingNumber} ${result.bookingNumber}: ${m.statusName[result.status]}`);
      booking = false;
      renderOrder();
      if (map) for (const seat of map.seats) paint(seat);
      let lastStatus = result.status;
      await ctx.api.followBooking(
        result.bookingNumber,
        (b) => {
          live!.update(b);
          if (b.status !== lastStatus) ctx.announce(m.statusName[b.status] ?? "");
          lastStatus = b.status;
        },
        ctx.signal,
        30_000,
      );
    } catch (e) {
      if (ctx.signal.aborted) return;
      progress.textContent = "";
      booking = false;
      const problem: Problem = ctx.fail(live ? followProblem : orderProblem, e, "booking");
      if (problem.retryAt) holdOff(problem.retryAt);
      renderOrder();
    }
  }

  /** A busy screening: the button waits out RetryInfo's delay. */
  function holdOff(until: number): void {
    busyUntil = until;
    const timer = setInterval(() => {
      if (Date.now() >= busyUntil || ctx.signal.aborted) clearInterval(timer);
      renderOrder();
    }, 500);
  }
}

function legend(): HTMLElement {
  const m = t();
  const item = (state: State, label: string) =>
    h("li", null, h("span", { class: "seat swatch", "data-state": state, "aria-hidden": "true" }), label);
  return h(
    "ul",
    { class: "legend" },
    item("available", m.legendAvailable),
    item("selected", m.legendSelected),
    item("held", m.legendHeld),
    item("sold", m.legendSold),
  );
}

function bySeat(a: string, b: string): number {
  const [ra = "", na = "0"] = a.split("-");
  const [rb = "", nb = "0"] = b.split("-");
  return ra === rb ? Number(na) - Number(nb) : ra.localeCompare(rb);
}
