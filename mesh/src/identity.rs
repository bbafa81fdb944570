//! Who is calling: the identity the gateway verified, read in one place.
//!
//! Envoy's `jwt_authn` filter checks the bearer token once, at the edge (signature,
//! issuer, audience, expiry), and forwards its payload in [`HEADER`]: the JWT's
//! payload segment as it was signed, base64url JSON. Envoy strips any copy of that
//! header a client sent before the check, so a forged one never reaches a service;
//! under Linkerd only the gateway's identity may call the public RPCs at all.
//!
//! Claims used: `sub` (the customer id) and `roles` (`admin`, `operator`; a list, or a
//! space-separated string). Services refuse calls that need an identity and come
//! without one (defence in depth: a caller that bypasses the gateway gets
//! UNAUTHENTICATED), and answer PERMISSION_DENIED to a caller without the role.

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use serde::Deserialize;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Code, Status};

use crate::status::with_reason;

/// The header the gateway forwards the verified token's payload in.
pub const HEADER: &str = "x-cinema-identity";

/// The longest `sub` accepted: it becomes the customer id (at most 100 characters).
const MAX_SUBJECT_CHARS: usize = 100;

/// What a signed-in caller may do beyond acting as a customer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Registers movies and schedules screenings.
    Admin,
    /// Runs the saga operator API and rebuilds the booking view.
    Operator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Operator => "operator",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        match raw {
            "admin" => Some(Self::Admin),
            "operator" => Some(Self::Operator),
            _ => None,
        }
    }
}

/// A caller the gateway vouched for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    subject: String,
    roles: Vec<Role>,
}

impl Identity {
    /// An identity with `roles` (for clients inside the mesh and tests; services
    /// get theirs from [`Identity::from_metadata`]).
    pub fn new(subject: impl Into<String>, roles: &[Role]) -> Self {
        Self { subject: subject.into(), roles: roles.to_vec() }
    }

    /// A plain customer.
    pub fn customer(subject: impl Into<String>) -> Self {
        Self::new(subject, &[])
    }

    /// The token's `sub`: the customer id, or the operator recorded in the audit.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// The caller, when the gateway vouched for one; a header that is not a token
    /// payload with a usable `sub` is UNAUTHENTICATED.
    pub fn from_metadata(metadata: &MetadataMap) -> Result<Option<Self>, Status> {
        let Some(value) = metadata.get(HEADER) else { return Ok(None) };
        let parsed = value.to_str().ok().and_then(|raw| Self::decode(raw).ok());
        parsed.map(Some).ok_or_else(|| unauthenticated("the identity header is malformed"))
    }

    /// The caller; UNAUTHENTICATED (`SIGN_IN_REQUIRED`) without one.
    pub fn required(metadata: &MetadataMap) -> Result<Self, Status> {
        Self::from_metadata(metadata)?.ok_or_else(|| unauthenticated("sign in first: this call needs a bearer token"))
    }

    /// The caller, holding `role`: UNAUTHENTICATED without an identity,
    /// PERMISSION_DENIED (`ROLE_REQUIRED`) without the role.
    pub fn with_role(metadata: &MetadataMap, role: Role) -> Result<Self, Status> {
        let identity = Self::required(metadata)?;
        if !identity.has(role) {
            return Err(with_reason(
                Code::PermissionDenied,
                "ROLE_REQUIRED",
                format!("this call needs the `{}` role", role.as_str()),
            ));
        }
        Ok(identity)
    }

    /// A customer acts only as themselves: PERMISSION_DENIED (`NOT_YOURS`) when
    /// `customer_id` is someone else.
    pub fn require_self(&self, customer_id: &str) -> Result<(), Status> {
        if customer_id == self.subject {
            return Ok(());
        }
        Err(with_reason(
            Code::PermissionDenied,
            "NOT_YOURS",
            "a customer may only act on their own account (customer_id must be the signed-in customer)",
        ))
    }

    /// The header value the gateway would send for this identity.
    pub fn header_value(&self) -> String {
        let roles: Vec<&str> = self.roles.iter().map(|r| r.as_str()).collect();
        let payload = serde_json::json!({ "sub": self.subject, "roles": roles });
        URL_SAFE_NO_PAD.encode(payload.to_string())
    }

    /// Adds this identity to outgoing metadata (callers inside the mesh, tests).
    pub fn insert_into(&self, metadata: &mut MetadataMap) {
        let value = MetadataValue::try_from(self.header_value()).expect("base64url is a valid header value");
        metadata.insert(HEADER, value);
    }

    /// `message` as a request from this identity (callers inside the mesh, tests).
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        self.insert_into(request.metadata_mut());
        request
    }

    fn decode(raw: &str) -> Result<Self, &'static str> {
        let raw = raw.trim();
        let json = URL_SAFE_NO_PAD.decode(raw).or_else(|_| URL_SAFE.decode(raw)).map_err(|_| "not base64url")?;
        let claims: Claims = serde_json::from_slice(&json).map_err(|_| "not a JSON object with `sub`")?;
        let subject = claims.sub;
        if subject.is_empty() || subject.chars().count() > MAX_SUBJECT_CHARS || subject.chars().any(char::is_control) {
            return Err("`sub` must be 1 to 100 printable characters");
        }
        let names: Vec<String> = match claims.roles {
            None => Vec::new(),
            Some(Roles::List(list)) => list,
            Some(Roles::Spaced(spaced)) => spaced.split_whitespace().map(str::to_owned).collect(),
        };
        let mut roles: Vec<Role> = names.iter().filter_map(|name| Role::parse(name)).collect();
        roles.dedup();
        Ok(Self { subject, roles })
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    roles: Option<Roles>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Roles {
    List(Vec<String>),
    Spaced(String),
}

fn unauthenticated(message: &str) -> Status {
    with_reason(Code::Unauthenticated, "SIGN_IN_REQUIRED", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(value: &str) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        metadata.insert(HEADER, value.parse().unwrap());
        metadata
    }

    fn encoded(json: &str) -> String {
        URL_SAFE_NO_PAD.encode(json)
    }

    #[test]
    fn reads_what_the_gateway_forwards() {
        let payload =
            encoded(r#"{"iss":"https://id.example","aud":"cinema","sub":"kim","roles":["admin","x"],"exp":1}"#);
        let identity = Identity::required(&metadata(&payload)).unwrap();
        assert_eq!(identity.subject(), "kim");
        assert!(identity.has(Role::Admin));
        assert!(!identity.has(Role::Operator));
    }

    #[test]
    fn roles_may_be_a_space_separated_string_or_absent() {
        let spaced = Identity::required(&metadata(&encoded(r#"{"sub":"ops","roles":"operator admin"}"#))).unwrap();
        assert!(spaced.has(Role::Operator) && spaced.has(Role::Admin));
        let none = Identity::required(&metadata(&encoded(r#"{"sub":"kim"}"#))).unwrap();
        assert!(!none.has(Role::Admin) && !none.has(Role::Operator));
    }

    #[test]
    fn round_trips_through_the_header() {
        let identity = Identity::new("lee", &[Role::Operator]);
        let mut md = MetadataMap::new();
        identity.insert_into(&mut md);
        assert_eq!(Identity::required(&md).unwrap(), identity);
    }

    #[test]
    fn padded_base64url_is_accepted() {
        let payload = URL_SAFE.encode(r#"{"sub":"kim1"}"#);
        assert_eq!(Identity::required(&metadata(&payload)).unwrap().subject(), "kim1");
    }

    #[test]
    fn no_header_is_unauthenticated_where_one_is_needed() {
        assert_eq!(Identity::from_metadata(&MetadataMap::new()).unwrap(), None);
        assert_eq!(Identity::required(&MetadataMap::new()).unwrap_err().code(), Code::Unauthenticated);
    }

    #[test]
    fn malformed_headers_are_unauthenticated() {
        for bad in [
            "not base64 !".to_owned(),
            encoded("not json"),
            encoded(r#"{"roles":["admin"]}"#),
            encoded(r#"{"sub":""}"#),
            encoded(r#"{"sub":42}"#),
            encoded(&format!(r#"{{"sub":"{}"}}"#, "x".repeat(101))),
            encoded(r#"{"sub":"a\u0000b"}"#),
            encoded(r#"{"sub":"kim","roles":7}"#),
        ] {
            let status = Identity::from_metadata(&metadata(&bad)).unwrap_err();
            assert_eq!(status.code(), Code::Unauthenticated, "{bad}");
        }
    }

    #[test]
    fn roles_and_ownership_are_refused_with_permission_denied() {
        let md = metadata(&Identity::customer("kim").header_value());
        assert_eq!(Identity::with_role(&md, Role::Admin).unwrap_err().code(), Code::PermissionDenied);
        let kim = Identity::required(&md).unwrap();
        assert!(kim.require_self("kim").is_ok());
        assert_eq!(kim.require_self("lee").unwrap_err().code(), Code::PermissionDenied);
        let admin = metadata(&Identity::new("root", &[Role::Admin]).header_value());
        assert_eq!(Identity::with_role(&admin, Role::Admin).unwrap().subject(), "root");
    }
}

/// The bounded fuzz campaign over the identity header (`cinema_testkit::fuzz_config`).
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(cinema_testkit::fuzz_config())]

        /// Only a base64url JSON object with a printable `sub` is an identity.
        #[test]
        fn any_header_is_refused_or_a_printable_subject(
            raw in prop_oneof!["[ -~]{0,200}", "[A-Za-z0-9_-]{0,200}"],
            json in ".*",
        ) {
            let encoded = URL_SAFE_NO_PAD.encode(format!(r#"{{"sub":{json:?},"roles":{json:?}}}"#));
            for value in [raw, encoded] {
                let Ok(header) = value.parse() else { continue };
                let mut metadata = MetadataMap::new();
                metadata.insert(HEADER, header);
                match Identity::from_metadata(&metadata) {
                    Ok(Some(identity)) => {
                        let sub = identity.subject();
                        prop_assert!((1..=100).contains(&sub.chars().count()) && !sub.chars().any(char::is_control));
                    }
                    Ok(None) => prop_assert!(false, "a header was present"),
                    Err(status) => prop_assert_eq!(status.code(), Code::Unauthenticated),
                }
            }
        }
    }
}
