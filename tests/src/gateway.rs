//! The Envoy gateway config, rendered from the template `mesh/envoy/gateway.yaml`.

use std::path::Path;

use crate::Service;

/// The template, compiled in so the harness works from any directory.
pub const GATEWAY_TEMPLATE: &str = include_str!("../../mesh/envoy/gateway.yaml");

/// Where the gateway listens and where each routed service listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayPorts {
    /// The address the listener binds (`127.0.0.1` for tests, `0.0.0.0` to expose it).
    pub listen_address: String,
    pub listen: u16,
    pub admin: u16,
    /// The host the upstream services listen on.
    pub upstream_host: String,
    pub orchestrator: u16,
    pub screening: u16,
    pub seats: u16,
    pub reservation: u16,
    pub notification: u16,
    pub loyalty: u16,
}

impl GatewayPorts {
    /// The ports of `cargo xtask up` (gateway 8080, admin 9901, services 50060..50066).
    pub fn defaults() -> Self {
        Self::with(8080, 9901, |s| s.default_port())
    }

    /// Gateway on `listen`/`admin`; each service's port from `port_of`.
    pub fn with(listen: u16, admin: u16, port_of: impl Fn(Service) -> u16) -> Self {
        Self {
            listen_address: "127.0.0.1".to_owned(),
            listen,
            admin,
            upstream_host: "127.0.0.1".to_owned(),
            orchestrator: port_of(Service::Orchestrator),
            screening: port_of(Service::Screening),
            seats: port_of(Service::Seats),
            reservation: port_of(Service::Reservation),
            notification: port_of(Service::Notification),
            loyalty: port_of(Service::Loyalty),
        }
    }
}

/// Renders the gateway config: every placeholder of the template is substituted.
pub fn render_gateway_config(ports: &GatewayPorts, descriptor_path: &Path) -> String {
    let descriptor = descriptor_path.display().to_string();
    let substitutions: [(&str, String); 11] = [
        ("{{LISTEN_ADDRESS}}", ports.listen_address.clone()),
        ("{{LISTEN_PORT}}", ports.listen.to_string()),
        ("{{ADMIN_PORT}}", ports.admin.to_string()),
        ("{{DESCRIPTOR}}", descriptor),
        ("{{UPSTREAM_HOST}}", ports.upstream_host.clone()),
        ("{{ORCHESTRATOR_PORT}}", ports.orchestrator.to_string()),
        ("{{SCREENING_PORT}}", ports.screening.to_string()),
        ("{{SEATS_PORT}}", ports.seats.to_string()),
        ("{{RESERVATION_PORT}}", ports.reservation.to_string()),
        ("{{NOTIFICATION_PORT}}", ports.notification.to_string()),
        ("{{LOYALTY_PORT}}", ports.loyalty.to_string()),
    ];
    substitutions
        .iter()
        .fold(GATEWAY_TEMPLATE.to_owned(), |config, (placeholder, value)| config.replace(placeholder, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_is_substituted() {
        let config = render_gateway_config(&GatewayPorts::defaults(), Path::new("/x/cinema.pb"));
        assert!(!config.contains("{{"), "unsubstituted placeholder left");
        assert!(config.contains("proto_descriptor: \"/x/cinema.pb\""));
        assert!(config.contains("port_value: 50062"));
    }

    /// Envoy transcodes nothing (404 "Could not resolve .. to a method") when the
    /// descriptor set lost the `google.api.http` options.
    #[test]
    fn the_descriptor_set_keeps_the_http_annotations() {
        let set = cinema_proto::FILE_DESCRIPTOR_SET;
        for path in [
            "/v1/movies",
            "/v1/movies/{movie_id}/screenings",
            "/v1/bookings/{booking_number}",
            "/v1/customers/{customer_id}/points",
        ] {
            assert!(
                set.windows(path.len()).any(|w| w == path.as_bytes()),
                "no google.api.http rule for {path} in cinema_proto::FILE_DESCRIPTOR_SET"
            );
        }
    }

    #[test]
    fn transcodes_exactly_the_public_services() {
        let config = render_gateway_config(&GatewayPorts::defaults(), Path::new("/x/cinema.pb"));
        for service in cinema_proto::PUBLIC_SERVICES {
            assert!(config.contains(&format!("- {service}\n")), "{service} not transcoded");
            assert!(config.contains(&format!("prefix: \"/{service}/\"")), "{service} not routed");
        }
        for service in cinema_proto::INTERNAL_SERVICES {
            assert!(!config.contains(service), "{service} must not be routed");
        }
    }
}
