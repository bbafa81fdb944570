//! The seven cinema binaries.

use std::fmt;

/// One cinema process (each has its own database and gRPC port).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    Screening,
    Seats,
    Payment,
    Reservation,
    Notification,
    Loyalty,
    Orchestrator,
}

impl Service {
    /// Every service, in start order (the orchestrator last: it calls the others).
    pub const ALL: [Service; 7] = [
        Service::Screening,
        Service::Seats,
        Service::Payment,
        Service::Reservation,
        Service::Notification,
        Service::Loyalty,
        Service::Orchestrator,
    ];

    /// Short name: `seats`; used in database names and log files.
    pub fn name(self) -> &'static str {
        match self {
            Service::Screening => "screening",
            Service::Seats => "seats",
            Service::Payment => "payment",
            Service::Reservation => "reservation",
            Service::Notification => "notification",
            Service::Loyalty => "loyalty",
            Service::Orchestrator => "orchestrator",
        }
    }

    /// The binary in the cargo target dir: `cinema-seats`.
    pub fn binary(self) -> &'static str {
        match self {
            Service::Screening => "cinema-screening",
            Service::Seats => "cinema-seats",
            Service::Payment => "cinema-payment",
            Service::Reservation => "cinema-reservation",
            Service::Notification => "cinema-notification",
            Service::Loyalty => "cinema-loyalty",
            Service::Orchestrator => "cinema-orchestrator",
        }
    }

    /// The port `cargo xtask up` gives it.
    pub fn default_port(self) -> u16 {
        match self {
            Service::Orchestrator => 50060,
            Service::Screening => 50061,
            Service::Seats => 50062,
            Service::Payment => 50063,
            Service::Reservation => 50064,
            Service::Notification => 50065,
            Service::Loyalty => 50066,
        }
    }

    /// The public gRPC service it serves (routed by Envoy), if any.
    pub fn public_service(self) -> Option<&'static str> {
        match self {
            Service::Screening => Some("cinema.screening.v1.ScreeningService"),
            Service::Seats => Some("cinema.seats.v1.SeatsService"),
            Service::Payment => None,
            Service::Reservation => Some("cinema.reservation.v1.BookingQueryService"),
            Service::Notification => Some("cinema.notification.v1.NotificationService"),
            Service::Loyalty => Some("cinema.loyalty.v1.LoyaltyService"),
            Service::Orchestrator => Some("cinema.booking.v1.BookingService"),
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_services_match_the_contracts() {
        let mut ours: Vec<&str> = Service::ALL.iter().filter_map(|s| s.public_service()).collect();
        let mut theirs = cinema_proto::PUBLIC_SERVICES.to_vec();
        ours.sort_unstable();
        theirs.sort_unstable();
        assert_eq!(ours, theirs);
    }
}
