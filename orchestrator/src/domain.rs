//! A booking request, parsed at the edge; booking numbers. No I/O.

use uuid::Uuid;

use cinema_mesh::status::Violations;

pub const MAX_SEATS: usize = 10;

/// A checked BookTickets request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookRequest {
    pub request_id: String,
    pub customer_id: String,
    pub screening_id: Uuid,
    /// Distinct, sorted.
    pub seat_ids: Vec<String>,
    pub card_token: String,
}

impl BookRequest {
    pub fn parse(
        request_id: &str,
        customer_id: &str,
        screening_id: &str,
        seat_ids: &[String],
        card_token: Option<&str>,
    ) -> Result<Self, Violations> {
        let mut v = Violations::default();
        let text = |v: &mut Violations, field: &str, raw: &str, max: usize| {
            if raw.trim().is_empty() {
                v.add(field, "is required");
            } else if raw.len() > max || raw.chars().any(char::is_control) {
                v.add(field, format!("must be at most {max} printable characters"));
            }
        };
        text(&mut v, "request_id", request_id, 100);
        text(&mut v, "customer_id", customer_id, 100);
        let screening = match screening_id {
            "" => {
                v.add("screening_id", "is required");
                None
            }
            raw => raw.parse::<Uuid>().map_err(|_| v.add("screening_id", "must be a UUID")).ok(),
        };
        let mut seats: Vec<String> = Vec::new();
        if seat_ids.is_empty() {
            v.add("seat_ids", "at least one seat is required");
        } else if seat_ids.len() > MAX_SEATS {
            v.add("seat_ids", format!("at most {MAX_SEATS} seats per booking"));
        }
        for (i, seat) in seat_ids.iter().enumerate() {
            if !is_seat_id(seat) {
                v.add(format!("seat_ids[{i}]"), format!("{seat:?} is not a seat id like A-1"));
            } else if seats.contains(seat) {
                v.add(format!("seat_ids[{i}]"), format!("seat {seat} is listed twice"));
            } else {
                seats.push(seat.clone());
            }
        }
        seats.sort();
        match card_token {
            None => v.add("payment", "is required"),
            Some(token) => text(&mut v, "payment.card_token", token, 200),
        }
        match (v.is_empty(), screening) {
            (true, Some(screening_id)) => Ok(Self {
                request_id: request_id.to_owned(),
                customer_id: customer_id.to_owned(),
                screening_id,
                seat_ids: seats,
                card_token: card_token.unwrap_or_default().to_owned(),
            }),
            _ => Err(v),
        }
    }
}

/// `{row}-{number}`: one or two capital letters, a number 1..=99 without leading zero.
pub fn is_seat_id(raw: &str) -> bool {
    let Some((row, number)) = raw.split_once('-') else { return false };
    (1..=2).contains(&row.len())
        && row.chars().all(|c| c.is_ascii_uppercase())
        && !number.starts_with('0')
        && number.parse::<u8>().is_ok_and(|n| (1..=99).contains(&n))
}

/// A new booking number: `BK` + 12 characters of Crockford base32 from a
/// random UUID (no I, L, O, U: easy to read out on the phone).
pub fn new_booking_number() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let bits = Uuid::new_v4().as_u128();
    let code: String = (0..12).map(|i| ALPHABET[((bits >> (i * 5)) & 31) as usize] as char).collect();
    format!("BK{code}")
}

/// What [`new_booking_number`] makes: `BK` and 12 Crockford base32 characters.
pub fn is_booking_number(raw: &str) -> bool {
    const ALPHABET: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    raw.len() == 14 && raw.starts_with("BK") && raw[2..].chars().all(|c| ALPHABET.contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(seats: &[&str], token: Option<&str>) -> Result<BookRequest, Violations> {
        let seats: Vec<String> = seats.iter().map(|s| s.to_string()).collect();
        BookRequest::parse("r1", "c1", "0193a1d2-0000-7000-8000-000000000001", &seats, token)
    }

    #[test]
    fn a_good_request_parses_with_sorted_seats() {
        let req = parse(&["B-2", "A-1"], Some("tok_visa")).unwrap();
        assert_eq!(req.seat_ids, ["A-1", "B-2"]);
    }

    #[test]
    fn bad_requests_name_every_field() {
        for (seats, token) in [
            (vec![], Some("tok")),
            (vec!["A1"], Some("tok")),
            (vec!["A-1", "A-1"], Some("tok")),
            (vec!["A-1"], None),
            (vec!["A-1"], Some(" ")),
        ] {
            assert!(parse(&seats, token).is_err(), "{seats:?} {token:?}");
        }
        let err = BookRequest::parse("", "", "nope", &[], None).unwrap_err();
        let status = err.check(()).unwrap_err();
        for field in ["request_id", "customer_id", "screening_id", "seat_ids", "payment"] {
            assert!(status.message().contains(field), "{field} missing from {}", status.message());
        }
    }

    #[test]
    fn booking_numbers_are_readable_and_distinct() {
        let a = new_booking_number();
        assert_eq!(a.len(), 14);
        assert!(a.starts_with("BK") && a.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
        assert_ne!(a, new_booking_number());
        assert!(is_booking_number(&a), "{a}");
        for bad in ["", "BK", "bk7q2m9xk4d1hv", "BK7Q2M9XK4D1H", "BK7Q2M9XK4D1HVX", "XX7Q2M9XK4D1HV", "BK7Q2M9XK4D1HU"]
        {
            assert!(!is_booking_number(bad), "{bad}");
        }
    }
}

/// The bounded fuzz campaign over the BookTickets parser (`cinema_testkit::fuzz_config`).
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![".*", "[ -~]{0,120}", "\\PC{0,3}[\\x00-\\x1f]\\PC{0,3}", "[0-9a-f-]{36}"]
    }

    fn seat() -> impl Strategy<Value = String> {
        prop_oneof!["[A-Z]{1,3}-[0-9]{1,3}", ".{0,8}", "[A-J]-[1-9]"]
    }

    proptest! {
        #![proptest_config(cinema_testkit::fuzz_config())]

        /// Whatever arrives, the parser answers; what it accepts is a booking the saga can run.
        #[test]
        fn book_tickets_accepts_only_well_formed_requests(
            request_id in text(), customer in text(), screening in text(),
            seats in proptest::collection::vec(seat(), 0..14), token in proptest::option::of(text()),
        ) {
            if let Ok(parsed) = BookRequest::parse(&request_id, &customer, &screening, &seats, token.as_deref()) {
                prop_assert!((1..=MAX_SEATS).contains(&parsed.seat_ids.len()));
                prop_assert!(parsed.seat_ids.windows(2).all(|w| w[0] < w[1]), "sorted and distinct");
                prop_assert!(parsed.seat_ids.iter().all(|s| is_seat_id(s)));
                for field in [&parsed.request_id, &parsed.customer_id, &parsed.card_token] {
                    prop_assert!(!field.trim().is_empty() && !field.chars().any(char::is_control));
                }
            }
        }
    }
}
