//! A bounded fuzz campaign through the gateway: malformed JSON, wrong types, huge fields,
//! bad UTF-8, unknown enums and fields, garbage path parameters, and garbage protobuf
//! bytes (undecodable messages, wrong wire types, truncated frames) at every public
//! route, over REST and gRPC, signed in as whoever may call the route (so the input
//! reaches the service's parser, not just the sign-in check).
//!
//! Every input is malformed by construction (unknown JSON fields are not: the transcoder
//! ignores them, as the proto3 JSON mapping allows). The promise: each answer is a client error
//! (HTTP 4xx, or a gRPC code a client caused), never a 5xx / INTERNAL / UNKNOWN; no process
//! restarts; nothing is written. [`run`] checks the answers; the caller checks the rest
//! (see `tests/e2e/fuzz.rs`). Cases are drawn from a seed, so a failure replays exactly.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, Result};
use bytes::{Buf as _, BufMut as _, Bytes};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom as _;
use rand::{Rng as _, SeedableRng as _};
use serde_json::{Value, json};
use tonic::Code;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

use crate::Stack;
use crate::auth::AuthChannel;

/// The customer the campaign signs in as.
pub const CUSTOMER: &str = "fuzz-customer";

/// What to run.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub cases: usize,
    pub seed: u64,
}

/// What the campaign saw.
#[derive(Debug, Default)]
pub struct Report {
    pub cases: usize,
    /// Answers by HTTP status (`http 400`) or gRPC code (`grpc InvalidArgument`).
    pub answers: BTreeMap<String, usize>,
    /// Cases answered with something other than a client error: (case, what was sent, answer).
    pub failures: Vec<(usize, String, String)>,
}

impl Report {
    pub fn summary(&self) -> String {
        let answers: Vec<String> = self.answers.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        format!("{} cases, {} not a client error; answers {}", self.cases, self.failures.len(), answers.join(", "))
    }
}

/// Who a route needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Anyone,
    Customer,
    Admin,
}

/// A public REST route and a valid body to break (`None`: no body).
struct Route {
    method: &'static str,
    /// With `{}` where the path parameter goes.
    path: &'static str,
    /// A valid value for the path parameter.
    param: &'static str,
    body: Option<Value>,
    who: Who,
}

/// A public gRPC method and who may call it.
struct Method {
    path: &'static str,
    who: Who,
}

const SCREENING: &str = "0195f3a0-0000-7000-8000-00000000f022";
const NUMBER: &str = "BKFUZZ00000000";

fn routes() -> Vec<Route> {
    let booking = json!({"requestId": "fuzz-1", "screeningId": SCREENING, "seatIds": ["A-1", "A-2"],
        "payment": {"cardToken": "tok_visa"}});
    let movie = json!({"title": "fuzz", "status": "MOVIE_STATUS_RUNNING", "runningMinutes": 100});
    let screening = json!({"movieId": SCREENING, "startsAt": "2030-01-01T10:00:00Z",
        "price": {"currency": "KRW", "amount": "12000"},
        "rowPrices": [{"row": "J", "price": {"currency": "KRW", "amount": "15000"}}]});
    let partner = json!({"partnerId": "okcashbag", "memberNumber": "OK-1234"});
    let route = |method, path, param, body, who| Route { method, path, param, body, who };
    vec![
        route("GET", "/v1/movies", "", None, Who::Anyone),
        route("POST", "/v1/movies", "", Some(movie), Who::Admin),
        route("POST", "/v1/screenings", "", Some(screening), Who::Admin),
        route("GET", "/v1/movies/{}/screenings", SCREENING, None, Who::Anyone),
        route("GET", "/v1/screenings/{}/seats", SCREENING, None, Who::Anyone),
        route("POST", "/v1/bookings", "", Some(booking), Who::Customer),
        route("GET", "/v1/bookings/{}", NUMBER, None, Who::Customer),
        route("DELETE", "/v1/bookings/{}", NUMBER, None, Who::Customer),
        route("GET", "/v1/bookings/{}/notifications", NUMBER, None, Who::Customer),
        route("GET", "/v1/customers/{}/bookings", CUSTOMER, None, Who::Customer),
        route("GET", "/v1/customers/{}/points", CUSTOMER, None, Who::Customer),
        route("POST", "/v1/customers/{}/partner", CUSTOMER, Some(partner), Who::Customer),
        route("DELETE", "/v1/customers/{}/partner", CUSTOMER, None, Who::Customer),
    ]
}

fn methods() -> Vec<Method> {
    let method = |path, who| Method { path, who };
    vec![
        method("/cinema.screening.v1.ScreeningService/RegisterMovie", Who::Admin),
        method("/cinema.screening.v1.ScreeningService/ListMovies", Who::Anyone),
        method("/cinema.screening.v1.ScreeningService/ScheduleScreening", Who::Admin),
        method("/cinema.screening.v1.ScreeningService/ListScreenings", Who::Anyone),
        method("/cinema.seats.v1.SeatsService/GetSeatMap", Who::Anyone),
        method("/cinema.booking.v1.BookingService/BookTickets", Who::Customer),
        method("/cinema.booking.v1.BookingService/CancelBooking", Who::Customer),
        method("/cinema.reservation.v1.BookingQueryService/GetBooking", Who::Customer),
        method("/cinema.reservation.v1.BookingQueryService/ListBookings", Who::Customer),
        method("/cinema.notification.v1.NotificationService/ListNotifications", Who::Customer),
        method("/cinema.loyalty.v1.LoyaltyService/GetPoints", Who::Customer),
        method("/cinema.loyalty.v1.LoyaltyService/LinkPartner", Who::Customer),
        method("/cinema.loyalty.v1.LoyaltyService/UnlinkPartner", Who::Customer),
    ]
}

/// Runs `options.cases` cases against `stack`'s gateway: about two in three over REST,
/// the rest over gRPC.
pub async fn run(stack: &Stack, options: Options) -> Result<Report> {
    let tokens = [stack.customer_token(CUSTOMER), stack.admin_token()];
    let token = |who: Who| match who {
        Who::Anyone => None,
        Who::Customer => Some(tokens[0].as_str()),
        Who::Admin => Some(tokens[1].as_str()),
    };
    let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build()?;
    let channels = [
        stack.gateway_channel_as(None)?,
        stack.gateway_channel_as(Some(&tokens[0]))?,
        stack.gateway_channel_as(Some(&tokens[1]))?,
    ];
    let channel = |who: Who| match who {
        Who::Anyone => channels[0].clone(),
        Who::Customer => channels[1].clone(),
        Who::Admin => channels[2].clone(),
    };
    let (routes, methods) = (routes(), methods());
    let mut rng = StdRng::seed_from_u64(options.seed);
    let mut report = Report { cases: options.cases, ..Report::default() };
    for case in 0..options.cases {
        if rng.random_ratio(2, 3) {
            let route = routes.choose(&mut rng).context("routes")?;
            let (path, body, what) = rest_case(route, &mut rng);
            let url = format!("{}{path}", stack.gateway_url());
            let mut request = http.request(route.method.parse()?, url);
            if let Some(token) = token(route.who) {
                request = request.bearer_auth(token);
            }
            if let Some(body) = body {
                request = request.header("content-type", "application/json").body(body);
            }
            let described = format!("{} {} ({what})", route.method, shorten(&path));
            let (answer, client_error) = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let text = response.text().await.unwrap_or_default();
                    (format!("http {}: {}", status.as_u16(), shorten(&text)), status.is_client_error())
                }
                Err(e) => (format!("no answer: {e}"), false),
            };
            *report.answers.entry(answer.split(':').next().unwrap_or_default().to_owned()).or_default() += 1;
            if !client_error {
                report.failures.push((case, described, answer));
            }
        } else {
            let method = methods.choose(&mut rng).context("methods")?;
            let (message, what) = grpc_case(&mut rng);
            let described = format!("gRPC {} ({what}, {} bytes)", method.path, message.len());
            let status = call_raw(channel(method.who), method.path, message).await;
            let code = status.as_ref().err().map_or(Code::Ok, tonic::Status::code);
            *report.answers.entry(format!("grpc {code:?}")).or_default() += 1;
            if !client_caused(code) {
                let answer = status.err().map(|s| format!("{:?}: {}", s.code(), s.message())).unwrap_or_default();
                report.failures.push((case, described, answer));
            }
        }
    }
    Ok(report)
}

/// The gRPC codes that say "your request was wrong" (or not yours to make).
fn client_caused(code: Code) -> bool {
    matches!(
        code,
        Code::InvalidArgument
            | Code::NotFound
            | Code::AlreadyExists
            | Code::PermissionDenied
            | Code::Unauthenticated
            | Code::FailedPrecondition
            | Code::OutOfRange
            | Code::ResourceExhausted
    )
}

/// One malformed REST call: the path, the body, and what was broken.
fn rest_case(route: &Route, rng: &mut StdRng) -> (String, Option<Vec<u8>>, String) {
    let mut param = route.param.to_owned();
    let mut query = String::new();
    let mut body = route.body.clone();
    let what: String;
    let broken_body = body.is_some() && rng.random_ratio(4, 5);
    if broken_body {
        let value = body.take().expect("a body");
        let (bytes, how) = break_json(value, rng);
        return (format!("{}{query}", route.path.replace("{}", &param)), Some(bytes), how);
    }
    match rng.random_range(0..4) {
        0 if !route.param.is_empty() => {
            param = garbage_param(rng);
            what = "a garbage path parameter".to_owned();
        }
        1 => {
            query = format!("?{}={}", garbage_word(rng), garbage_word(rng));
            what = "an unknown query parameter".to_owned();
        }
        2 if !route.param.is_empty() => {
            param = "x".repeat(rng.random_range(200..20_000));
            what = "a huge path parameter".to_owned();
        }
        _ => {
            // A body on a route that takes none, or a body of bytes where JSON belongs.
            let bytes: Vec<u8> = (0..rng.random_range(1..200)).map(|_| rng.random()).collect();
            let path = route.path.replace("{}", &garbage_param(rng));
            return (path, Some(bytes), "garbage bytes, garbage parameter".to_owned());
        }
    }
    let path = route.path.replace("{}", &param);
    (format!("{path}{query}"), body.map(|b| b.to_string().into_bytes()), what)
}

/// A valid JSON body, broken one way.
fn break_json(mut value: Value, rng: &mut StdRng) -> (Vec<u8>, String) {
    let text = value.to_string();
    let keys: Vec<String> = value.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
    let key = keys.choose(rng).cloned().unwrap_or_default();
    match rng.random_range(0..8) {
        0 => {
            let cut = rng.random_range(0..text.len());
            (text.as_bytes()[..cut].to_vec(), "truncated JSON".to_owned())
        }
        1 => {
            let wrong = [json!(12345), json!(true), json!([1, 2]), json!({"a": {}}), json!(-1.5)];
            value[&key] = wrong.choose(rng).cloned().unwrap_or_default();
            if value[&key].is_number() && key == "runningMinutes" {
                value[&key] = json!("many");
            }
            (value.to_string().into_bytes(), format!("a wrong type for {key}"))
        }
        2 => {
            value[&key] = json!("x".repeat(rng.random_range(5_000..300_000)));
            (value.to_string().into_bytes(), format!("a huge {key}"))
        }
        3 => {
            let at = text.find(':').map_or(0, |i| i + 2);
            let mut bytes = text.as_bytes()[..at].to_vec();
            bytes.extend([0xff, 0xfe, 0xc3, 0x28]);
            bytes.extend(&text.as_bytes()[at..]);
            (bytes, "bad UTF-8 in a string".to_owned())
        }
        4 => {
            let enum_key = if value.get("status").is_some() { "status" } else { "bogusEnum" };
            value[enum_key] = json!(["MOVIE_STATUS_NOPE", "BOOKING_STATUS_NOPE"].choose(rng));
            (value.to_string().into_bytes(), "an unknown enum value or field".to_owned())
        }
        5 => {
            // Out of range for a number, the wrong type for anything else. (Unknown fields
            // are not among the cases: the transcoder ignores them, as the proto3 JSON
            // mapping allows, so a newer client's field does not break an older server.)
            value[&key] = json!(1e300);
            (value.to_string().into_bytes(), format!("1e300 for {key}"))
        }
        6 => {
            value[&key] = json!(format!("a\u{0}b\u{7}{}", "\u{1F3AC}".repeat(rng.random_range(1..50))));
            if let Some(object) = value.as_object_mut() {
                // Control characters alone may be accepted by a free-text field: also
                // drop a required one so the request cannot be valid.
                let required = ["title", "requestId", "movieId", "memberNumber", "screeningId"];
                object.retain(|k, _| !required.contains(&k.as_str()) || k == &key);
            }
            (value.to_string().into_bytes(), format!("control characters in {key}, a field missing"))
        }
        _ => {
            let bytes: Vec<u8> = (0..rng.random_range(0..400)).map(|_| rng.random()).collect();
            (bytes, "random bytes".to_owned())
        }
    }
}

/// A path parameter no resource has: random printable and percent-encoded bytes.
fn garbage_param(rng: &mut StdRng) -> String {
    (0..rng.random_range(1..60))
        .map(|_| match rng.random_range(0..4) {
            0 => format!("%{:02X}", rng.random::<u8>()),
            1 => ["..", "%00", "%2F", "'", "\"", "{", "}", "%20"].choose(rng).copied().unwrap_or("x").to_owned(),
            _ => (rng.random_range(b'!'..=b'~') as char).to_string().replace(['/', '?', '#', '%'], "_"),
        })
        .collect()
}

fn garbage_word(rng: &mut StdRng) -> String {
    (0..rng.random_range(3..12)).map(|_| rng.random_range(b'a'..=b'z') as char).collect()
}

/// A message no public request decodes from: `(bytes, what)`.
fn grpc_case(rng: &mut StdRng) -> (Bytes, String) {
    let mut bytes = Vec::new();
    let what = match rng.random_range(0..4) {
        0 => {
            // Wire type 7 does not exist: undecodable from the first byte on.
            bytes.push(0x0f);
            bytes.extend((0..rng.random_range(0..300)).map(|_| rng.random::<u8>()));
            "garbage protobuf"
        }
        1 => {
            // Field 1 is a string in every public request: a varint there is the wrong wire type.
            bytes.extend([0x08, 0x96, 0x01]);
            "a wrong wire type"
        }
        2 => {
            // A length-delimited field 1 that claims more bytes than follow.
            bytes.extend([0x0a, 0xff, 0x7f]);
            bytes.extend((0..rng.random_range(0..100)).map(|_| rng.random_range(b'a'..=b'z')));
            "a truncated field"
        }
        _ => {
            // A huge string field 1 (256 KiB..1.5 MiB) with invalid UTF-8 inside.
            let len: usize = rng.random_range(256 << 10..1536 << 10);
            bytes.push(0x0a);
            let mut n = len;
            while n >= 0x80 {
                bytes.push((n as u8) | 0x80);
                n >>= 7;
            }
            bytes.push(n as u8);
            bytes.extend(std::iter::repeat_n(0xffu8, len));
            "a huge field of invalid UTF-8"
        }
    };
    (Bytes::from(bytes), what.to_owned())
}

/// Calls `path` with `message` as the raw request bytes.
async fn call_raw(channel: AuthChannel, path: &str, message: Bytes) -> Result<Bytes, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel).max_encoding_message_size(8 << 20);
    grpc.ready().await.map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let path = http::uri::PathAndQuery::try_from(path).map_err(|e| tonic::Status::internal(e.to_string()))?;
    let mut request = tonic::Request::new(message);
    request.set_timeout(Duration::from_secs(20));
    grpc.unary(request, path, RawCodec).await.map(tonic::Response::into_inner)
}

/// Sends and receives message bytes as they are.
#[derive(Clone, Copy, Debug, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Self::Error> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

fn shorten(text: &str) -> String {
    let short: String = text.chars().take(160).collect();
    if short.len() < text.len() { format!("{short}...") } else { short }
}
