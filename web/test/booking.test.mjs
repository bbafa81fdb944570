// The booking page as customers use it: a real headless Chromium, two customers
// in two browser contexts, against a running stack.
//
//   CINEMA_WEB_URL       the gateway serving the page and /config.json (required)
//   CINEMA_ADMIN_TOKEN   an admin token, to schedule this test's own screening (required)
//   CINEMA_ARTIFACTS     where the screenshots go (default: a new temp dir, printed)
//
// The first two demo customers of /config.json are A and B. The test registers
// a movie and schedules a screening on a random day far ahead through REST, so
// it never meets seats of another run. Every wait is on the page's state with a
// deadline; nothing sleeps.

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";

const WEB = required("CINEMA_WEB_URL").replace(/\/+$/, "");
const ADMIN_TOKEN = required("CINEMA_ADMIN_TOKEN");
const ARTIFACTS = process.env.CINEMA_ARTIFACTS || mkdtempSync(join(tmpdir(), "cinema-web-"));
mkdirSync(ARTIFACTS, { recursive: true });

/** How soon a seat another customer bought or freed must change colour on an open map. */
const LIVE_MS = 1_000;

let browser, gateway, customerA, customerB, movie, screening;
let pageA, pageB, pageB2;
let bookingNumber;
const startedAt = Date.now();

before(async () => {
  console.log(`screenshots: ${ARTIFACTS}`);
  const config = await (await fetch(`${WEB}/config.json`)).json();
  assert.equal(config.signIn?.kind, "demo", "the test signs in as demo customers");
  [customerA, customerB] = config.signIn.customers;
  assert.ok(customerA && customerB, "config.json lists two demo customers");
  gateway = (config.gatewayUrl ?? WEB).replace(/\/+$/, "");
  ({ movie, screening } = await scheduleScreening());

  browser = await chromium.launch({ executablePath: "/usr/bin/chromium" });
  pageA = await customerPage(customerA);
  pageB = await customerPage(customerB);
  pageB2 = await pageB.context().newPage();
  await signIn(pageB2, customerB);
});

after(async () => {
  await browser?.close();
  console.log(`took ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
});

test("A books two seats with tok_visa and sees CONFIRMED", async () => {
  await openScreening(pageA);
  await openScreening(pageB);
  await pageB.evaluate(() => (window.__sameDocument = true));

  const e5 = seat(pageA, "E-5");
  assert.match(await e5.getAttribute("aria-label"), /E열 5번/);
  await e5.click();
  // The keyboard: arrows move between seats, Space picks.
  await e5.press("ArrowRight");
  await pageA.keyboard.press("Space");
  await pageA.locator('.seat[data-seat="E-6"][aria-pressed="true"]').waitFor();
  await pageA.locator(".order [data-chosen]").filter({ hasText: "E-5, E-6" }).waitFor();
  await shot(pageA, "01-a-picked-two-seats");

  await pageA.locator("button.book").click();
  const card = pageA.locator('.booking-status .booking-card[data-status="CONFIRMED"]');
  await card.waitFor({ timeout: 20_000 });
  bookingNumber = await card.getAttribute("data-booking");
  assert.match(bookingNumber, /\S/);
  await shot(pageA, "02-a-confirmed");
});

test("B's open seat map shows A's seats sold without reloading", async () => {
  const since = Date.now();
  await waitSeat(pageB, "E-5", "sold", LIVE_MS);
  await waitSeat(pageB, "E-6", "sold", LIVE_MS);
  console.log(`B saw the seats sold ${Date.now() - since} ms after A saw CONFIRMED`);
  assert.equal(await pageB.evaluate(() => window.__sameDocument), true, "B's page did not reload");
  assert.equal(await seat(pageB, "E-5").getAttribute("aria-disabled"), "true");
  await shot(pageB, "03-b-sees-sold");
});

test("B does not see A's booking, and looking its number up is refused", async () => {
  await pageB2.locator('nav a[href="#/bookings"]').click();
  await pageB2.locator(".booking-list:not([aria-busy])").waitFor();
  assert.equal(await pageB2.locator(`.booking-card[data-booking="${bookingNumber}"]`).count(), 0);

  await pageB2.locator("#lookup").fill(bookingNumber);
  await pageB2.locator("#lookup").press("Enter");
  const refused = pageB2.locator("[data-refused]");
  await refused.waitFor();
  assert.match(await refused.textContent(), new RegExp(`${bookingNumber}.*본인`));
  assert.equal(await pageB2.locator('[data-action="cancel"]').count(), 0, "nothing to cancel");
  await shot(pageB2, "04-b-lookup-refused");
});

test("A cancels, and B sees the seats free again", async () => {
  await pageA.locator('nav a[href="#/bookings"]').click();
  const card = pageA.locator(`.booking-card[data-booking="${bookingNumber}"]`);
  await card.locator('[data-action="cancel"]').click();
  await card.locator('[data-action="cancel-yes"]').click();
  await pageA.locator(`.booking-card[data-booking="${bookingNumber}"][data-status="CANCELLED"]`).waitFor({ timeout: 20_000 });
  await shot(pageA, "05-a-cancelled");

  const since = Date.now();
  await waitSeat(pageB, "E-5", "available", LIVE_MS);
  await waitSeat(pageB, "E-6", "available", LIVE_MS);
  console.log(`B saw the seats free ${Date.now() - since} ms after A saw CANCELLED`);
  assert.equal(await pageB.evaluate(() => window.__sameDocument), true, "B's page did not reload");
  await shot(pageB, "06-b-sees-free");
});

test("a declined card shows the reason", async () => {
  await openScreening(pageA);
  await seat(pageA, "F-1").click();
  await pageA.getByLabel(/tok_decline/).check();
  await pageA.locator("button.book").click();
  const card = pageA.locator('.booking-status .booking-card[data-status="REJECTED"]');
  await card.waitFor({ timeout: 20_000 });
  const hint = await card.locator(".hint").textContent();
  assert.match(hint, /카드 결제가 거절되었습니다/);
  assert.match(hint, /declined/, "the server's reason is shown too");
  await waitSeat(pageA, "F-1", "available", 5_000);
  await shot(pageA, "07-a-declined");
});

test("on a phone-sized screen the seat map fits without scrolling sideways", async () => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const phone = await context.newPage();
  await phone.goto(`${WEB}/#/screenings/${screening.screeningId}`);
  await seat(phone, "J-12").waitFor();
  const { scrollWidth, innerWidth, right } = await phone.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    right: document.querySelector('.seat[data-seat="J-12"]').getBoundingClientRect().right,
  }));
  assert.ok(scrollWidth <= innerWidth, `page is ${scrollWidth}px wide in a ${innerWidth}px screen`);
  assert.ok(right <= innerWidth, `seat J-12 ends at ${right}px`);
  await shot(phone, "08-phone-seat-map", true);
  await context.close();
});

test("a sign-in the gateway refuses goes back to sign-in with a message", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await signIn(page, customerA);
  // The gateway checks the signature: one changed byte there answers UNAUTHENTICATED.
  await page.evaluate(() => {
    const session = JSON.parse(sessionStorage.getItem("cinema.session"));
    const [head, body, signature] = session.token.split(".");
    const flipped = (signature[0] === "A" ? "B" : "A") + signature.slice(1);
    sessionStorage.setItem("cinema.session", JSON.stringify({ ...session, token: `${head}.${body}.${flipped}` }));
  });
  await page.goto(`${WEB}/#/bookings`);
  await page.reload();
  const flash = page.locator("[data-flash]");
  await flash.waitFor();
  assert.match(await flash.textContent(), /로그인이 만료되었습니다/);
  assert.match(page.url(), /#\/signin$/);
  await shot(page, "09-sign-in-again");
  await context.close();
});

// ---- helpers ----

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (see the header of this file)`);
  return value;
}

async function admin(path, body) {
  const response = await fetch(`${gateway}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = await response.json();
  assert.ok(response.ok, `POST ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

/** A movie of our own and a screening on a random day 30 to 3,000 days ahead; waits for its seats. */
async function scheduleScreening() {
  const tag = Math.random().toString(36).slice(2, 8);
  const movie = await admin("/v1/movies", { title: `웹 테스트 ${tag}`, status: "MOVIE_STATUS_RUNNING", runningMinutes: 100 });
  const day = new Date(Date.now() + (30 + Math.floor(Math.random() * 2970)) * 86_400_000);
  day.setUTCHours(10, 0, 0, 0);
  const screening = await admin("/v1/screenings", {
    movieId: movie.movieId,
    startsAt: day.toISOString(),
    price: { currency: "KRW", amount: "12000" },
    rowPrices: [{ row: "J", price: { currency: "KRW", amount: "15000" } }],
  });
  // The seat inventory is built from the ScreeningScheduled event: wait for it.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const response = await fetch(`${gateway}/v1/screenings/${screening.screeningId}/seats`);
    if (response.ok && ((await response.json()).seats ?? []).length > 0) break;
    assert.ok(Date.now() < deadline, "the screening's seats appear within 10 s");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { movie, screening };
}

async function customerPage(customer) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "ko-KR" });
  const page = await context.newPage();
  await signIn(page, customer);
  return page;
}

async function signIn(page, customer) {
  page.setDefaultTimeout(10_000);
  page.on("pageerror", (e) => console.error(`page error (${customer.id}):`, e.message));
  await page.goto(`${WEB}/#/signin`);
  await page.locator(`button[data-customer="${customer.id}"]`).click();
  await page.locator(`.who[data-customer]`).waitFor();
}

/** As a person gets there: the movie's card, then its screening. */
async function openScreening(page) {
  await page.locator('nav a[href="#/"]').click();
  await page.locator(`a.movie[data-movie="${movie.movieId}"]`).click();
  await page.locator(`a.showtime[data-screening="${screening.screeningId}"]`).click();
  await page.locator('.seat[data-seat="A-1"][data-state]').waitFor();
}

function seat(page, id) {
  return page.locator(`.seat[data-seat="${id}"]`);
}

function waitSeat(page, id, state, timeout) {
  return page.locator(`.seat[data-seat="${id}"][data-state="${state}"]`).waitFor({ timeout });
}

async function shot(page, name, fullPage = false) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage });
}
