//! # cinema-client
//!
//! The cinema booking API from Rust, through the gateway: the generated tonic clients of
//! every public service ([`proto`]), and a [`Client`] for what the generated code cannot
//! do by itself:
//!
//! - [`Client::book`] books with a `request_id` made once per [`BookRequest`] and sent
//!   again on every retry, so a retried booking is the same booking; it retries
//!   `UNAVAILABLE` (and `RESOURCE_EXHAUSTED` that says when to come back) with jittered
//!   exponential backoff, then follows `PENDING` / `AWAITING_PAYMENT` to the final status;
//! - [`Client::watch`] is a booking's changes as a [`Stream`](futures::Stream), watching
//!   again when the server ends a watch early;
//! - every refusal is an [`Error`] with its field violations, reason and retry delay.
//!
//! ```no_run
//! use cinema_client::{BookRequest, Client};
//! # async fn run() -> Result<(), cinema_client::Error> {
//! let client = Client::new("http://127.0.0.1:8080", Some("<token of `cargo xtask token --customer kim`>"))?;
//! let request = BookRequest::new("<screening id>", ["A-1", "A-2"], "tok_visa");
//! let booking = client.book(&request).await?;
//! println!("{} is {:?}", booking.booking_number, booking.status());
//! # Ok(())
//! # }
//! ```
//!
//! Refusals are typed:
//!
//! ```no_run
//! # use cinema_client::{BookRequest, Client, Error};
//! # async fn run(client: Client) {
//! match client.book(&BookRequest::new("<screening id>", Vec::<String>::new(), "tok_visa")).await {
//!     Err(Error::InvalidArgument { violations, .. }) => {
//!         for v in violations {
//!             eprintln!("{}: {}", v.field, v.description); // seat_ids: must name one to ten seats
//!         }
//!     }
//!     Err(Error::Busy { retry_after, .. }) => eprintln!("busy, come back in {retry_after:?}"),
//!     Err(other) => eprintln!("{other}"),
//!     Ok(booking) => println!("{:?}", booking.status()),
//! }
//! # }
//! ```
//!
//! `https://` gateway URLs need the `tls` feature.

mod error;
mod retry;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Endpoint;

pub use cinema_proto as proto;
pub use error::{Error, FieldViolation};
pub use retry::Backoff;

use proto::booking::v1::booking_service_client::BookingServiceClient;
use proto::booking::v1::{BookTicketsRequest, BookingResult, CancelBookingRequest, PaymentMethod};
use proto::common::v1::BookingStatus;
use proto::loyalty::v1::loyalty_service_client::LoyaltyServiceClient;
use proto::notification::v1::notification_service_client::NotificationServiceClient;
use proto::reservation::v1::booking_query_service_client::BookingQueryServiceClient;
use proto::reservation::v1::{
    Booking, GetBookingRequest, ListBookingsRequest, ListBookingsResponse, WatchBookingRequest,
};
use proto::screening::v1::screening_service_client::ScreeningServiceClient;
use proto::seats::v1::seats_service_client::SeatsServiceClient;

/// The channel every generated client of a [`Client`] uses: the gateway, with the token.
pub type Channel = InterceptedService<tonic::transport::Channel, Bearer>;

/// Puts `authorization: Bearer <token>` on every call (when there is a token).
#[derive(Clone, Default)]
pub struct Bearer(Arc<RwLock<Option<MetadataValue<Ascii>>>>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let token = self.0.read().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(value) = token {
            request.metadata_mut().insert("authorization", value);
        }
        Ok(request)
    }
}

/// What to book: made once, sent as often as it takes. Its `request_id` is the
/// idempotency key: booking the same `BookRequest` twice is one booking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookRequest {
    pub request_id: String,
    pub screening_id: String,
    pub seat_ids: Vec<String>,
    /// A tokenized card (`tok_visa`, `tok_decline` on the test acquirer).
    pub card_token: String,
}

impl BookRequest {
    /// A request with a fresh `request_id` (a UUID).
    pub fn new(
        screening_id: impl Into<String>,
        seat_ids: impl IntoIterator<Item = impl Into<String>>,
        card_token: impl Into<String>,
    ) -> Self {
        Self {
            request_id: uuid::Uuid::new_v4().to_string(),
            screening_id: screening_id.into(),
            seat_ids: seat_ids.into_iter().map(Into::into).collect(),
            card_token: card_token.into(),
        }
    }

    /// The same request under the caller's own idempotency key.
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = request_id.into();
        self
    }

    fn to_proto(&self) -> BookTicketsRequest {
        BookTicketsRequest {
            request_id: self.request_id.clone(),
            customer_id: String::new(), // the token's subject
            screening_id: self.screening_id.clone(),
            seat_ids: self.seat_ids.clone(),
            payment: Some(PaymentMethod { card_token: self.card_token.clone() }),
        }
    }
}

/// Whether nothing more happens to a booking in `status` (a watch ends there).
pub fn is_final(status: BookingStatus) -> bool {
    matches!(
        status,
        BookingStatus::Confirmed | BookingStatus::Rejected | BookingStatus::Expired | BookingStatus::Cancelled
    )
}

/// The cinema API through its gateway, signed in with a bearer token. Cheap to clone;
/// clones share the connection and the token.
#[derive(Clone)]
pub struct Client {
    channel: Channel,
    bearer: Bearer,
    backoff: Backoff,
}

impl Client {
    /// A client of the gateway at `url` (`http://host:port`, or `https://` with the `tls`
    /// feature). It connects on first use, so a gateway that is not up yet is retried
    /// like any other outage.
    pub fn new(url: &str, token: Option<&str>) -> Result<Self, Error> {
        let endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(|e| Error::Config(format!("gateway URL {url:?}: {e}")))?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true);
        #[cfg(feature = "tls")]
        let endpoint = if url.starts_with("https://") {
            endpoint
                .tls_config(tonic::transport::ClientTlsConfig::new().with_native_roots())
                .map_err(|e| Error::Config(format!("TLS for {url:?}: {e}")))?
        } else {
            endpoint
        };
        let bearer = Bearer::default();
        let client = Self {
            channel: InterceptedService::new(endpoint.connect_lazy(), bearer.clone()),
            bearer,
            backoff: Backoff::default(),
        };
        client.set_token(token)?;
        Ok(client)
    }

    /// How calls are retried (see [`Backoff`]).
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Signs in as someone else, or out (`None`), for every clone of this client.
    pub fn set_token(&self, token: Option<&str>) -> Result<(), Error> {
        let value = token
            .map(|t| format!("Bearer {t}").parse::<MetadataValue<Ascii>>())
            .transpose()
            .map_err(|_| Error::Config("the token must be printable ASCII".into()))?;
        *self.bearer.0.write().unwrap_or_else(|e| e.into_inner()) = value;
        Ok(())
    }

    /// Books, retrying transient failures with the same `request_id`, and follows the
    /// booking to its final status: CONFIRMED, REJECTED (see `reason`) or EXPIRED.
    pub async fn book(&self, request: &BookRequest) -> Result<Booking, Error> {
        let answer = self.book_tickets(request).await?;
        let mut updates = std::pin::pin!(self.watch(&answer.booking_number));
        let mut last = None;
        while let Some(booking) = futures::StreamExt::next(&mut updates).await {
            let booking = booking?;
            if is_final(booking.status()) {
                return Ok(booking);
            }
            last = Some(booking);
        }
        // A watch only ends early on an error, which was returned above.
        last.ok_or_else(|| Error::Config("the booking's watch ended before it began".into()))
    }

    /// BookTickets once answered (retrying transient failures with the same
    /// `request_id`): final, or PENDING / AWAITING_PAYMENT while the saga goes on.
    pub async fn book_tickets(&self, request: &BookRequest) -> Result<BookingResult, Error> {
        let message = request.to_proto();
        self.backoff
            .retry(|| {
                let mut bookings = self.booking_service();
                let message = message.clone();
                async move { Ok(bookings.book_tickets(message).await?.into_inner()) }
            })
            .await
    }

    /// The booking now, then each change, until it reaches a final status. A watch the
    /// server ends early (it drains, or an hour passed) is watched again, and nothing
    /// is shown twice; an error ends the stream.
    pub fn watch(&self, booking_number: &str) -> impl Stream<Item = Result<Booking, Error>> + Send + 'static {
        let (tx, rx) = mpsc::channel(8);
        tokio::spawn(follow(self.clone(), booking_number.to_owned(), tx));
        ReceiverStream::new(rx)
    }

    /// The booking by its number (NOT_FOUND for someone else's).
    pub async fn get_booking(&self, booking_number: &str) -> Result<Booking, Error> {
        let request = GetBookingRequest { booking_number: booking_number.to_owned(), ..Default::default() };
        self.backoff
            .retry(|| {
                let mut queries = self.booking_queries();
                let request = request.clone();
                async move { Ok(queries.get_booking(request).await?.into_inner()) }
            })
            .await
    }

    /// The signed-in customer's bookings, newest first; `page_token` from the last page.
    pub async fn list_bookings(&self, customer_id: &str, page_token: &str) -> Result<ListBookingsResponse, Error> {
        let request = ListBookingsRequest {
            customer_id: customer_id.to_owned(),
            page_token: page_token.to_owned(),
            ..Default::default()
        };
        self.backoff
            .retry(|| {
                let mut queries = self.booking_queries();
                let request = request.clone();
                async move { Ok(queries.list_bookings(request).await?.into_inner()) }
            })
            .await
    }

    /// Cancels a CONFIRMED booking (refund, seats freed). Cancelling again answers the same.
    pub async fn cancel(&self, booking_number: &str, reason: &str) -> Result<BookingResult, Error> {
        let request = CancelBookingRequest { booking_number: booking_number.to_owned(), reason: reason.to_owned() };
        self.backoff
            .retry(|| {
                let mut bookings = self.booking_service();
                let request = request.clone();
                async move { Ok(bookings.cancel_booking(request).await?.into_inner()) }
            })
            .await
    }

    /// The generated clients, on this client's channel and token.
    pub fn booking_service(&self) -> BookingServiceClient<Channel> {
        BookingServiceClient::new(self.channel.clone())
    }

    pub fn booking_queries(&self) -> BookingQueryServiceClient<Channel> {
        BookingQueryServiceClient::new(self.channel.clone())
    }

    pub fn screenings(&self) -> ScreeningServiceClient<Channel> {
        ScreeningServiceClient::new(self.channel.clone())
    }

    pub fn seats(&self) -> SeatsServiceClient<Channel> {
        SeatsServiceClient::new(self.channel.clone())
    }

    pub fn loyalty(&self) -> LoyaltyServiceClient<Channel> {
        LoyaltyServiceClient::new(self.channel.clone())
    }

    pub fn notifications(&self) -> NotificationServiceClient<Channel> {
        NotificationServiceClient::new(self.channel.clone())
    }
}

/// [`Client::watch`]'s task: watch, and watch again while the booking is not final.
async fn follow(client: Client, booking_number: String, tx: mpsc::Sender<Result<Booking, Error>>) {
    let mut shown = 0u64; // the version last sent
    let mut failures = 0u32;
    loop {
        let request = WatchBookingRequest { booking_number: booking_number.clone() };
        let outcome = async {
            let mut updates = client.booking_queries().watch_booking(request).await?.into_inner();
            while let Some(booking) = updates.message().await? {
                failures = 0;
                if booking.version <= shown {
                    continue; // seen before this watch began
                }
                shown = booking.version;
                let done = is_final(booking.status());
                if tx.send(Ok(booking)).await.is_err() || done {
                    return Ok(true);
                }
            }
            Ok::<_, tonic::Status>(false)
        }
        .await;
        let delay = match outcome {
            Ok(true) => return,
            Ok(false) => client.backoff.delay(0, None), // ended early: watch again
            Err(status) => {
                let error = Error::from(status);
                failures += 1;
                if !error.is_transient() || failures >= client.backoff.attempts {
                    let _ = tx.send(Err(retry::with_attempts(error, failures))).await;
                    return;
                }
                client.backoff.delay(failures - 1, error.retry_after())
            }
        };
        tokio::select! {
            _ = tx.closed() => return,
            _ = tokio::time::sleep(delay) => {}
        }
    }
}
