//! The contracts of cinema, compiled once.
//!
//! Layout: one module per protobuf package (`cinema::seats::v1` is
//! [`seats::v1`]), and [`FILE_DESCRIPTOR_SET`], the one descriptor set that
//! both gRPC reflection and the Envoy gateway's REST transcoder read.
//!
//! Public services (routed by Envoy): `ScreeningService`, `SeatsService`,
//! `BookingQueryService`, `BookingService`, `NotificationService`,
//! `LoyaltyService`. Internal services (orchestrator only, never routed):
//! `SeatInventoryService`, `PaymentService`, `ReservationService`. Operator
//! services (internal, never routed; admins only once auth exists):
//! `BookingViewAdmin`, `SagaOperatorService`.

/// Every cinema proto with its imports, source info and custom options.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/cinema_descriptor.bin"));

/// The fully qualified names of the services Envoy exposes.
pub const PUBLIC_SERVICES: &[&str] = &[
    "cinema.screening.v1.ScreeningService",
    "cinema.seats.v1.SeatsService",
    "cinema.reservation.v1.BookingQueryService",
    "cinema.booking.v1.BookingService",
    "cinema.notification.v1.NotificationService",
    "cinema.loyalty.v1.LoyaltyService",
];

/// The services only the orchestrator may call.
pub const INTERNAL_SERVICES: &[&str] = &[
    "cinema.seats.v1.SeatInventoryService",
    "cinema.payment.v1.PaymentService",
    "cinema.reservation.v1.ReservationService",
];

/// The services operators call: routed by the gateway for callers with a token that
/// holds the `operator` role (the service checks it), never transcoded to REST.
pub const OPERATOR_SERVICES: &[&str] =
    &["cinema.reservation.v1.BookingViewAdmin", "cinema.booking.v1.SagaOperatorService"];

macro_rules! package {
    ($name:ident, $path:literal) => {
        pub mod $name {
            pub mod v1 {
                tonic::include_proto!($path);
            }
        }
    };
}

package!(common, "cinema.common.v1");
package!(screening, "cinema.screening.v1");
package!(seats, "cinema.seats.v1");
package!(payment, "cinema.payment.v1");
package!(reservation, "cinema.reservation.v1");
package!(booking, "cinema.booking.v1");
package!(notification, "cinema.notification.v1");
package!(loyalty, "cinema.loyalty.v1");
package!(events, "cinema.events.v1");

pub mod topics;
