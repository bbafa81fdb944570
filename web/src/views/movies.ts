// Movies now showing, and one movie's screenings grouped by day.

import type { Screening } from "../api.js";
import { h, replace } from "../dom.js";
import { day, money, t, time, toDate } from "../i18n.js";
import type { Ctx } from "../main.js";

export function renderMovies(ctx: Ctx, main: HTMLElement): void {
  const m = t();
  const list = h("div", { class: "movies", "aria-busy": "true" }, h("p", { class: "muted" }, m.loading));
  replace(main, h("h1", { class: "page-title" }, m.nowShowing), list);
  ctx.api.movies(ctx.signal).then(
    (movies) => {
      list.removeAttribute("aria-busy");
      if (movies.length === 0) return replace(list, h("p", { class: "muted" }, m.noMovies));
      replace(
        list,
        movies.map((movie) =>
          h(
            "a",
            { class: "movie", href: `#/movies/${encodeURIComponent(movie.movieId)}`, "data-movie": movie.movieId },
            poster(movie.title),
            h(
              "span",
              { class: "movie-info" },
              h("span", { class: "movie-title" }, movie.title),
              h(
                "span",
                { class: "muted" },
                [movie.runningMinutes ? m.minutes(movie.runningMinutes) : null, movie.screen?.name]
                  .filter(Boolean)
                  .join(" · "),
              ),
            ),
          ),
        ),
      );
    },
    (e) => ctx.signal.aborted || ctx.fail(list, e),
  );
}

export function renderMovie(ctx: Ctx, main: HTMLElement, movieId: string): void {
  const m = t();
  const title = h("h1", { class: "page-title" }, m.loading);
  const body = h("div", { class: "showtimes", "aria-busy": "true" });
  replace(main, h("a", { class: "back", href: "#/" }, m.backToMovies), title, body);
  Promise.all([ctx.api.movies(ctx.signal), ctx.api.screenings(movieId, ctx.signal)]).then(
    ([movies, screenings]) => {
      body.removeAttribute("aria-busy");
      const movie = movies.find((x) => x.movieId === movieId);
      title.textContent = m.screeningsOf(movie?.title ?? screenings[0]?.movieTitle ?? "");
      const upcoming = screenings
        .filter((s) => (toDate(s.startsAt)?.getTime() ?? 0) > Date.now())
        .sort((a, b) => Number((a.startsAt?.seconds ?? 0n) - (b.startsAt?.seconds ?? 0n)));
      if (upcoming.length === 0) return replace(body, h("p", { class: "muted" }, m.noScreenings));
      const days = new Map<string, Screening[]>();
      for (const s of upcoming) days.set(day(s.startsAt), [...(days.get(day(s.startsAt)) ?? []), s]);
      replace(
        body,
        [...days].map(([label, list]) =>
          h(
            "section",
            { class: "day" },
            h("h2", null, label),
            h(
              "ul",
              { class: "times" },
              list.map((s) =>
                h(
                  "li",
                  null,
                  h(
                    "a",
                    {
                      class: "showtime",
                      href: `#/screenings/${encodeURIComponent(s.screeningId)}`,
                      "data-screening": s.screeningId,
                    },
                    h("strong", null, time(s.startsAt)),
                    h("span", null, s.screen?.name ?? ""),
                    h("span", { class: "muted" }, m.fromPrice(money(cheapest(s)))),
                  ),
                ),
              ),
            ),
          ),
        ),
      );
    },
    (e) => ctx.signal.aborted || ctx.fail(body, e),
  );
}

function cheapest(s: Screening) {
  return [s.price, ...s.rowPrices.map((r) => r.price)]
    .filter((p) => p !== undefined)
    .reduce((a, b) => (b!.amount < a!.amount ? b : a), s.price);
}

/** A poster stand-in: the title's first letter on a colour picked from the title. */
function poster(title: string): HTMLElement {
  let hash = 0;
  for (const c of title) hash = (hash * 31 + c.codePointAt(0)!) >>> 0;
  const hue = hash % 360;
  return h(
    "span",
    {
      class: "poster",
      "aria-hidden": "true",
      style: `--hue:${hue}`,
    },
    [...title][0] ?? "",
  );
}
