// Korean first, English on request: every word the page shows, and how it
// writes money, dates and statuses. Times are the cinema's (Asia/Seoul).

import type { Money } from "./api.js";

export type Lang = "ko" | "en";

const ko = {
  brand: "시네마",
  skip: "본문으로 건너뛰기",
  loading: "불러오는 중…",
  navMovies: "영화",
  navBookings: "내 예매",
  signIn: "로그인",
  signInToBook: "로그인하고 예매하기",
  signOut: "로그아웃",
  switchLang: "English",
  switchLangLabel: "Switch to English",
  greeting: (name: string) => `${name} 님`,
  // sign in
  signInTitle: "로그인",
  signInDemo: "데모 고객을 골라 로그인하세요. 로컬 개발용 발급자가 서명한 토큰을 씁니다.",
  signInOidc: "예매하려면 로그인하세요.",
  signInWith: "계정으로 로그인",
  signInAs: (name: string) => `${name}(으)로 로그인`,
  sessionExpired: "로그인이 만료되었습니다. 다시 로그인해 주세요.",
  signInNeeded: "예매와 내 예매 보기는 로그인이 필요합니다.",
  signInFailed: "로그인하지 못했습니다.",
  // movies
  nowShowing: "현재 상영작",
  noMovies: "지금 상영 중인 영화가 없습니다.",
  minutes: (n: number) => `${n}분`,
  screeningsOf: (title: string) => `${title} 상영 시간표`,
  noScreenings: "예매할 수 있는 상영이 없습니다.",
  fromPrice: (p: string) => `${p}부터`,
  backToMovies: "← 영화 목록",
  // seat map
  screen: "스크린",
  seatMapLabel: "좌석 배치도",
  legendAvailable: "예매 가능",
  legendSelected: "선택",
  legendHeld: "다른 고객이 선택 중",
  legendSold: "판매 완료",
  rowPrices: "열별 가격",
  rows: (from: string, to: string) => (from === to ? `${from}열` : `${from}–${to}열`),
  seatLabel: (row: string, n: number) => `${row}열 ${n}번`,
  seatAvailable: "예매 가능",
  seatHeld: "다른 고객이 선택 중",
  seatSold: "판매 완료",
  seatSelected: "선택됨",
  maxSeats: (n: number) => `한 번에 최대 ${n}석까지 예매할 수 있습니다.`,
  seatGone: (seats: string) => `${seats} 좌석을 방금 다른 고객이 선택해 선택에서 뺐습니다.`,
  seatUnavailable: (seat: string) => `${seat} 좌석은 예매할 수 없습니다.`,
  live: "실시간",
  liveHint: "다른 고객이 선택하거나 예매한 좌석이 바로 반영됩니다.",
  availableCount: (n: number) => `잔여 ${n}석`,
  // order
  yourSeats: "선택한 좌석",
  noSeatsYet: "좌석을 선택하세요 (최대 10석).",
  total: "합계",
  card: "결제 카드",
  testCards: "테스트 카드입니다. 실제 결제는 일어나지 않습니다.",
  cardVisa: "tok_visa — 승인되는 카드",
  cardDecline: "tok_decline — 거절되는 카드",
  book: (n: number, total: string) => `${n}석 결제하기 · ${total}`,
  bookNothing: "좌석을 선택하세요",
  booking: "예매 요청 중…",
  busyRetrying: (s: number) => `예매가 몰리고 있어 ${s}초 후 자동으로 다시 시도합니다…`,
  unavailableRetrying: "서버에 잠시 연결할 수 없어 다시 시도합니다…",
  // bookings
  bookingNumber: "예매 번호",
  status: "상태",
  seats: "좌석",
  amount: "결제 금액",
  when: "상영 일시",
  holdCountdown: (t: string) => `결제를 다시 시도하는 중입니다. 좌석은 ${t} 동안 잡아 둡니다.`,
  holdOver: "좌석을 잡아 둔 시간이 끝났습니다.",
  pendingHint: "예매를 처리하고 있습니다. 이 화면에서 바로 결과를 알려 드립니다.",
  confirmedHint: "예매가 확정되었습니다. 즐거운 관람 되세요!",
  rejectedHint: (reason: string) => `예매가 거절되었습니다: ${reason}`,
  expiredHint: "결제가 시간 안에 끝나지 않아 예매가 만료되었습니다. 좌석은 풀렸습니다.",
  cancelledHint: "예매가 취소되었습니다. 결제는 환불되고 좌석은 풀렸습니다.",
  cancellingHint: "취소하는 중입니다…",
  reasonDetail: (r: string) => `사유: ${r}`,
  viewBooking: "예매 상세 보기",
  myBookings: "내 예매",
  noBookings: "아직 예매가 없습니다.",
  more: "더 보기",
  cancel: "예매 취소",
  cancelConfirm: "이 예매를 취소할까요? 결제가 환불되고 좌석이 풀립니다.",
  cancelYes: "취소하기",
  cancelNo: "아니요",
  cancelled: (n: string) => `${n} 예매를 취소했습니다.`,
  notifications: "보낸 알림",
  showNotifications: "알림 보기",
  hideNotifications: "알림 닫기",
  noNotifications: "보낸 알림이 없습니다.",
  delivery: { 0: "", 1: "보내는 중", 2: "전달됨", 3: "전달 실패" } as Record<number, string>,
  points: "포인트",
  pointsBalance: (n: string) => `${n} P`,
  pointsHistory: "적립 내역",
  noPoints: "적립 내역이 없습니다.",
  lookupTitle: "예매 번호로 조회",
  lookupLabel: "예매 번호",
  lookupButton: "조회",
  lookupNotFound: (n: string) => `${n}: 이 번호의 예매가 없거나 본인의 예매가 아닙니다. 본인의 예매만 조회하고 취소할 수 있습니다.`,
  bookingTitle: (n: string) => `예매 ${n}`,
  // errors
  errSeatTaken: "선택한 좌석 중 이미 다른 고객이 선택했거나 판매된 좌석이 있습니다. 다른 좌석을 골라 주세요.",
  errDeclined: "카드 결제가 거절되었습니다. 다른 카드로 다시 시도해 주세요.",
  errBusy: (s: number) => `지금 이 상영에 예매가 몰리고 있습니다. ${s}초 후에 다시 시도해 주세요.`,
  errBusyNow: "지금 이 상영에 예매가 몰리고 있습니다. 잠시 후 다시 시도해 주세요.",
  errNotYours: "본인의 예매나 계정만 볼 수 있습니다.",
  errNotFound: "찾을 수 없습니다.",
  errScreeningNotFound: "이 상영을 찾을 수 없습니다.",
  errNotCancellable: "이 예매는 지금 취소할 수 없습니다 (확정된 예매만 취소할 수 있습니다).",
  errInvalid: "요청을 확인해 주세요:",
  errUnavailable: "서비스에 잠시 연결할 수 없습니다. 잠시 후 다시 시도해 주세요.",
  errTimeout: "응답이 늦어지고 있습니다. 내 예매에서 결과를 확인해 주세요.",
  errOther: "문제가 발생했습니다.",
  errConfig: "페이지 설정(/config.json)을 읽지 못했습니다.",
  retry: "다시 시도",
  statusName: {
    0: "알 수 없음",
    1: "처리 중",
    2: "결제 대기",
    3: "예매 확정",
    4: "거절됨",
    5: "만료됨",
    6: "취소 중",
    7: "취소됨",
  } as Record<number, string>,
};

type Messages = typeof ko;

const en: Messages = {
  brand: "Cinema",
  skip: "Skip to content",
  loading: "Loading…",
  navMovies: "Movies",
  navBookings: "My bookings",
  signIn: "Sign in",
  signInToBook: "Sign in to book",
  signOut: "Sign out",
  switchLang: "한국어",
  switchLangLabel: "한국어로 보기",
  greeting: (name) => name,
  signInTitle: "Sign in",
  signInDemo: "Pick a demo customer. Their token is signed by the local development issuer.",
  signInOidc: "Sign in to book.",
  signInWith: "Sign in with your account",
  signInAs: (name) => `Sign in as ${name}`,
  sessionExpired: "Your sign-in has expired. Please sign in again.",
  signInNeeded: "Booking and your bookings need you to sign in.",
  signInFailed: "Could not sign you in.",
  nowShowing: "Now showing",
  noMovies: "No movies are showing right now.",
  minutes: (n) => `${n} min`,
  screeningsOf: (title) => `${title}: showtimes`,
  noScreenings: "No screenings to book.",
  fromPrice: (p) => `from ${p}`,
  backToMovies: "← All movies",
  screen: "Screen",
  seatMapLabel: "Seat map",
  legendAvailable: "Available",
  legendSelected: "Selected",
  legendHeld: "Held by someone",
  legendSold: "Sold",
  rowPrices: "Prices by row",
  rows: (from, to) => (from === to ? `Row ${from}` : `Rows ${from}–${to}`),
  seatLabel: (row, n) => `Row ${row}, seat ${n}`,
  seatAvailable: "available",
  seatHeld: "held by another customer",
  seatSold: "sold",
  seatSelected: "selected",
  maxSeats: (n) => `You can book at most ${n} seats at once.`,
  seatGone: (seats) => `Another customer just took ${seats}; removed from your selection.`,
  seatUnavailable: (seat) => `${seat} cannot be booked.`,
  live: "Live",
  liveHint: "Seats other customers hold or buy change colour as it happens.",
  availableCount: (n) => `${n} seats left`,
  yourSeats: "Your seats",
  noSeatsYet: "Pick your seats (up to 10).",
  total: "Total",
  card: "Card",
  testCards: "Test cards: nothing is really charged.",
  cardVisa: "tok_visa — approved",
  cardDecline: "tok_decline — declined",
  book: (n, total) => `Pay for ${n} seat${n === 1 ? "" : "s"} · ${total}`,
  bookNothing: "Pick seats",
  booking: "Booking…",
  busyRetrying: (s) => `Many people are booking this screening; trying again in ${s} s…`,
  unavailableRetrying: "The server is briefly unreachable; trying again…",
  bookingNumber: "Booking number",
  status: "Status",
  seats: "Seats",
  amount: "Amount",
  when: "Showtime",
  holdCountdown: (t) => `Payment is being retried. Your seats are held for ${t}.`,
  holdOver: "The hold on your seats has run out.",
  pendingHint: "We are processing your booking; the result shows up here.",
  confirmedHint: "Your booking is confirmed. Enjoy the film!",
  rejectedHint: (reason) => `Your booking was rejected: ${reason}`,
  expiredHint: "Payment did not complete in time; the booking expired and the seats were freed.",
  cancelledHint: "Cancelled: the payment is refunded and the seats are free again.",
  cancellingHint: "Cancelling…",
  reasonDetail: (r) => `Reason: ${r}`,
  viewBooking: "View booking",
  myBookings: "My bookings",
  noBookings: "No bookings yet.",
  more: "Show more",
  cancel: "Cancel booking",
  cancelConfirm: "Cancel this booking? The payment is refunded and the seats are freed.",
  cancelYes: "Yes, cancel",
  cancelNo: "No",
  cancelled: (n) => `Booking ${n} is cancelled.`,
  notifications: "Notifications sent",
  showNotifications: "Show notifications",
  hideNotifications: "Hide notifications",
  noNotifications: "No notifications sent.",
  delivery: { 0: "", 1: "sending", 2: "delivered", 3: "failed" },
  points: "Points",
  pointsBalance: (n) => `${n} P`,
  pointsHistory: "History",
  noPoints: "No points yet.",
  lookupTitle: "Find a booking by number",
  lookupLabel: "Booking number",
  lookupButton: "Find",
  lookupNotFound: (n) => `${n}: there is no booking with this number, or it is not yours. You can only see and cancel your own bookings.`,
  bookingTitle: (n) => `Booking ${n}`,
  errSeatTaken: "Some of these seats were just taken by someone else. Please pick other seats.",
  errDeclined: "Your card was declined. Please try another card.",
  errBusy: (s) => `This screening is very busy right now. Please try again in ${s} s.`,
  errBusyNow: "This screening is very busy right now. Please try again shortly.",
  errNotYours: "You can only see your own bookings and account.",
  errNotFound: "Not found.",
  errScreeningNotFound: "This screening does not exist.",
  errNotCancellable: "This booking cannot be cancelled now (only confirmed bookings can).",
  errInvalid: "Please check your request:",
  errUnavailable: "The service is briefly unreachable. Please try again shortly.",
  errTimeout: "This is taking long. Check the result in My bookings.",
  errOther: "Something went wrong.",
  errConfig: "Could not read the page's configuration (/config.json).",
  retry: "Try again",
  statusName: {
    0: "Unknown",
    1: "Processing",
    2: "Awaiting payment",
    3: "Confirmed",
    4: "Rejected",
    5: "Expired",
    6: "Cancelling",
    7: "Cancelled",
  },
};

const LANG = "cinema.lang";
let current: Lang = localStorage.getItem(LANG) === "en" ? "en" : "ko";

export function lang(): Lang {
  return current;
}

export function setLang(next: Lang): void {
  current = next;
  localStorage.setItem(LANG, next);
  document.documentElement.lang = next;
}

/** The current language's messages. */
export function t(): Messages {
  return current === "ko" ? ko : en;
}

const SEOUL = "Asia/Seoul";
const locale = () => (current === "ko" ? "ko-KR" : "en-GB");

export function money(m: Money | undefined): string {
  if (!m) return "";
  return new Intl.NumberFormat(locale(), { style: "currency", currency: m.currency || "KRW" }).format(Number(m.amount));
}

type Ts = { seconds: bigint; nanos: number } | undefined;

export function toDate(ts: Ts): Date | undefined {
  return ts ? new Date(Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6)) : undefined;
}

/** "12월 6일 (일) 10:00"; the year too when it is not this one. */
export function dateTime(ts: Ts): string {
  const d = toDate(ts);
  if (!d) return "";
  const year = (x: Date) => new Intl.DateTimeFormat("en", { timeZone: SEOUL, year: "numeric" }).format(x);
  return new Intl.DateTimeFormat(locale(), {
    timeZone: SEOUL,
    year: year(d) === year(new Date()) ? undefined : "numeric",
    month: "short",
    day: "numeric",
    weekday: "short",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).format(d);
}

/** "12월 6일 (일)" */
export function day(ts: Ts): string {
  const d = toDate(ts);
  if (!d) return "";
  return new Intl.DateTimeFormat(locale(), {
    timeZone: SEOUL,
    year: "numeric",
    month: "long",
    day: "numeric",
    weekday: "short",
  }).format(d);
}

/** "10:00" */
export function time(ts: Ts): string {
  const d = toDate(ts);
  if (!d) return "";
  return new Intl.DateTimeFormat(locale(), { timeZone: SEOUL, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(d);
}

/** "4:59" */
export function countdown(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export function points(n: bigint): string {
  return new Intl.NumberFormat(locale()).format(n);
}
