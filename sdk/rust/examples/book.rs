//! Books seats through the gateway and waits for the final status.
//!
//! ```sh
//! export TOKEN=$(cargo xtask token --customer kim)
//! cargo run -p cinema-client --example book -- <screening id> A-1 A-2
//! ```
//!
//! `CINEMA_GATEWAY_URL` (default `http://127.0.0.1:8080`), `TOKEN`, and `CARD`
//! (default `tok_visa`; `tok_decline` is declined by the test acquirer).

use cinema_client::{BookRequest, Client, Error};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(screening_id) = args.next() else {
        eprintln!("usage: book <screening id> <seat>...");
        return std::process::ExitCode::from(2);
    };
    let seats: Vec<String> = args.collect();
    let url = std::env::var("CINEMA_GATEWAY_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let token = std::env::var("TOKEN").ok();
    let card = std::env::var("CARD").unwrap_or_else(|_| "tok_visa".into());

    let outcome = async {
        let client = Client::new(&url, token.as_deref())?;
        client.book(&BookRequest::new(screening_id, seats, card)).await
    };
    match outcome.await {
        Ok(booking) => {
            println!("{} {:?} {}", booking.booking_number, booking.status(), booking.reason);
            std::process::ExitCode::SUCCESS
        }
        Err(Error::InvalidArgument { violations, message }) => {
            eprintln!("refused: {message}");
            for v in violations {
                eprintln!("  {}: {}", v.field, v.description);
            }
            std::process::ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("{error}");
            std::process::ExitCode::FAILURE
        }
    }
}
