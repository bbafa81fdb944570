// The customer's booking page: start-up, the shell (header, language, sign-in
// state) and a hash router. Routes:
//
//   #/                     movies now showing
//   #/movies/<id>          a movie's screenings
//   #/screenings/<id>      the live seat map; book
//   #/bookings             my bookings, points, look a booking up by number
//   #/bookings/<number>    one booking, live; cancel; notifications
//   #/signin               sign in (demo customers, or the OIDC provider)
//
// Layout
//   config.ts   /config.json          auth.ts     sessions, OIDC with PKCE
//   api.ts      the only caller of @cinema/client
//   errors.ts   refusals in words     i18n.ts     Korean / English, formats
//   views/      one file per page, plus the booking card they share

import "./app.css";
import { Api } from "./api.js";
import { completeOidc, currentSession, sessionExpired, signOut, signOutOidc, type Session } from "./auth.js";
import { loadConfig, type Config } from "./config.js";
import { h, replace } from "./dom.js";
import { describe, type Problem } from "./errors.js";
import { lang, setLang, t } from "./i18n.js";
import { renderBooking, renderMyBookings } from "./views/bookings.js";
import { renderMovie, renderMovies } from "./views/movies.js";
import { renderScreening } from "./views/screening.js";
import { renderSignIn } from "./views/signin.js";

/** What a view gets: the services, who is signed in, and a signal that aborts when it goes away. */
export interface Ctx {
  config: Config;
  api: Api;
  session: Session | null;
  signal: AbortSignal;
  go(hash: string): void;
  /** Signs the customer in or out and redraws the page. */
  setSession(session: Session | null): void;
  /** Shows what went wrong inside `target` (role=alert); an expired sign-in goes back to sign-in. */
  fail(target: Element, error: unknown, context?: Parameters<typeof describe>[1]): Problem;
  /** Says something to screen readers (aria-live). */
  announce(message: string): void;
  /** Sends a signed-out customer to sign in, coming back here after; true when signed in. */
  requireSignIn(): boolean;
}

let config: Config;
let session: Session | null = null;
let api: Api;
let view = new AbortController();
let flash: string | undefined;
let firstRender = true;

const app = document.getElementById("app")!;
const live = h("div", { class: "sr-only", "aria-live": "polite", role: "status" });

async function start(): Promise<void> {
  setLang(lang());
  try {
    config = await loadConfig();
  } catch (e) {
    replace(app, h("main", { class: "fatal", role: "alert" }, h("h1", null, t().errConfig), h("p", null, String(e))));
    return;
  }
  if (config.signIn.kind === "oidc") {
    try {
      const returnTo = await completeOidc(config.signIn);
      if (returnTo) location.hash = returnTo;
    } catch (e) {
      flash = `${t().signInFailed} ${String(e)}`;
      location.hash = "#/signin";
    }
  }
  if (sessionExpired()) {
    signOut();
    flash = t().sessionExpired;
  }
  useSession(currentSession());
  window.addEventListener("hashchange", render);
  render();
}

function useSession(next: Session | null): void {
  session = next;
  api = new Api(config.gatewayUrl, session?.token);
}

function render(): void {
  view.abort();
  view = new AbortController();
  const hash = location.hash || "#/";
  const main = h("main", { id: "main", tabindex: "-1" });
  replace(app, header(), main, footer(), live);
  const ctx = context(view.signal);
  const [, page, id] = hash.slice(1).split("/").map(decodeURIComponent);
  if (page === "signin") renderSignIn(ctx, main, takeFlash());
  else if (page === "movies" && id) renderMovie(ctx, main, id);
  else if (page === "screenings" && id) renderScreening(ctx, main, id);
  else if (page === "bookings" && id) renderBooking(ctx, main, id);
  else if (page === "bookings") renderMyBookings(ctx, main);
  else renderMovies(ctx, main);
  // Moving between pages puts focus on the new page, so screen readers start there.
  if (!firstRender) main.focus({ preventScroll: true });
  firstRender = false;
  window.scrollTo(0, 0);
}

function context(signal: AbortSignal): Ctx {
  const ctx: Ctx = {
    config,
    api,
    session,
    signal,
    go(hash) {
      // This view is over now, not at the next hashchange: what it still has in
      // flight (a second refusal, say) must not act on the page any more.
      view.abort();
      if (location.hash === hash) render();
      else location.hash = hash;
    },
    setSession(next) {
      useSession(next);
    },
    fail(target, error, kind) {
      const problem = describe(error, kind);
      if (signal.aborted) return problem;
      if (problem.signIn) {
        signOut();
        useSession(null);
        sessionStorage.setItem("cinema.returnTo", location.hash);
        flash = problem.message;
        ctx.go("#/signin");
        return problem;
      }
      replace(
        target,
        h(
          "div",
          { class: "problem", role: "alert" },
          h("p", null, problem.message),
          problem.details.length ? h("ul", null, problem.details.map((d) => h("li", null, d))) : null,
        ),
      );
      return problem;
    },
    announce(message) {
      live.textContent = "";
      // A fresh text node a moment later, so the same message twice is read twice.
      setTimeout(() => (live.textContent = message), 50);
    },
    requireSignIn() {
      if (session) return true;
      sessionStorage.setItem("cinema.returnTo", location.hash);
      flash = t().signInNeeded;
      ctx.go("#/signin");
      return false;
    },
  };
  return ctx;
}

function takeFlash(): string | undefined {
  const message = flash;
  flash = undefined;
  return message;
}

function header(): HTMLElement {
  const m = t();
  const hash = location.hash || "#/";
  const current = (prefix: string) =>
    (prefix === "#/" ? !hash.startsWith("#/bookings") && !hash.startsWith("#/signin") : hash.startsWith(prefix))
      ? "page"
      : null;
  return h(
    "header",
    { class: "top" },
    h("a", { class: "skip", href: "#main", onclick: skipToMain }, m.skip),
    h(
      "div",
      { class: "top-inner" },
      h("a", { class: "brand", href: "#/" }, h("span", { class: "brand-mark", "aria-hidden": "true" }, "▶"), m.brand),
      h(
        "nav",
        { "aria-label": m.brand },
        h("a", { href: "#/", "aria-current": current("#/") }, m.navMovies),
        h("a", { href: "#/bookings", "aria-current": current("#/bookings") }, m.navBookings),
      ),
      h(
        "div",
        { class: "top-tools" },
        h(
          "button",
          {
            type: "button",
            class: "lang",
            lang: lang() === "ko" ? "en" : "ko",
            "aria-label": m.switchLangLabel,
            onclick: () => {
              setLang(lang() === "ko" ? "en" : "ko");
              render();
            },
          },
          m.switchLang,
        ),
        session
          ? [
              h("span", { class: "who", "data-customer": session.customerId }, m.greeting(session.name)),
              h("button", { type: "button", class: "link", onclick: doSignOut }, m.signOut),
            ]
          : h("a", { class: "signin-link", href: "#/signin" }, m.signIn),
      ),
    ),
  );
}

function footer(): HTMLElement {
  return h("footer", { class: "bottom" }, h("p", null, "© cinema · gRPC-Web"));
}

function skipToMain(event: Event): void {
  event.preventDefault();
  document.getElementById("main")?.focus();
}

function doSignOut(): void {
  const idToken = session?.idToken;
  signOut();
  useSession(null);
  if (config.signIn.kind === "oidc") void signOutOidc(config.signIn, idToken);
  location.hash = "#/";
  render();
}

void start();
