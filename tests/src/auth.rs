//! The dev issuer: what signs the bearer tokens of a local stack.
//!
//! In production the gateway checks tokens from an OIDC issuer (its JWKS URI). Locally,
//! `cargo xtask up` (and every test [`Stack`](crate::Stack)) makes an ES256 key, writes the
//! JWKS file Envoy's `jwt_authn` reads, and signs tokens with it (`cargo xtask token`).
//! The key is a PKCS#8 file readable by its owner only.
//!
//! [`Claims`] can also be signed wrongly on purpose (expired, another issuer or
//! audience, another key, `alg: none`), for the tests that prove the gateway refuses them.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use serde_json::json;

/// The issuer (`iss`) of the dev tokens.
pub const DEV_ISSUER: &str = "https://dev-issuer.cinema.local";
/// The audience (`aud`) the gateway expects.
pub const AUDIENCE: &str = "cinema";
/// How long a token lives unless told otherwise.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);

/// An ES256 signing key and the JWKS that publishes its public half.
pub struct DevIssuer {
    key: EcdsaKeyPair,
    kid: String,
    dir: PathBuf,
}

impl DevIssuer {
    /// The key in `dir` (`dev-issuer.pk8`), made on first use; writes `jwks.json` beside it.
    pub fn load_or_create(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join("dev-issuer.pk8");
        let rng = SystemRandom::new();
        let pkcs8 = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let made = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(|_| anyhow::anyhow!("generating the dev issuer's key"))?;
                write_private(&path, made.as_ref())?;
                made.as_ref().to_vec()
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng)
            .map_err(|_| anyhow::anyhow!("{} is not an ES256 PKCS#8 key", path.display()))?;
        // The key id: a short digest of the public key, so a new key gets a new id.
        let digest = ring::digest::digest(&ring::digest::SHA256, key.public_key().as_ref());
        let kid = B64.encode(&digest.as_ref()[..12]);
        let issuer = Self { key, kid, dir: dir.to_path_buf() };
        let jwks = issuer.jwks_path();
        std::fs::write(&jwks, issuer.jwks().to_string()).with_context(|| format!("writing {}", jwks.display()))?;
        Ok(issuer)
    }

    /// A throwaway key (not written anywhere): tokens it signs carry a valid shape and a
    /// signature the gateway does not know.
    pub fn stranger() -> Result<Self> {
        let rng = SystemRandom::new();
        let made = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| anyhow::anyhow!("generating a key"))?;
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, made.as_ref(), &rng)
            .map_err(|_| anyhow::anyhow!("reading a generated key"))?;
        Ok(Self { key, kid: "stranger".to_owned(), dir: PathBuf::new() })
    }

    /// The JWKS file Envoy reads (`local_jwks`).
    pub fn jwks_path(&self) -> PathBuf {
        self.dir.join("jwks.json")
    }

    /// The public key as a JSON Web Key Set.
    pub fn jwks(&self) -> serde_json::Value {
        let point = self.key.public_key().as_ref(); // 0x04 || x || y
        json!({"keys": [{
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": self.kid,
            "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65]),
        }]})
    }

    /// A token for `claims`, signed ES256 with this key.
    pub fn sign(&self, claims: &Claims) -> String {
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": self.kid});
        let input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.payload().to_string()));
        let signature = self.key.sign(&SystemRandom::new(), input.as_bytes()).expect("ES256 signing does not fail");
        format!("{input}.{}", B64.encode(signature.as_ref()))
    }

    /// A valid token for a customer.
    pub fn customer(&self, subject: &str) -> String {
        self.sign(&Claims::new(subject))
    }

    /// A valid token with roles (`admin`, `operator`).
    pub fn with_roles(&self, subject: &str, roles: &[&str]) -> String {
        self.sign(&Claims::new(subject).roles(roles))
    }
}

/// Who every call of a channel comes from: a bearer token (through the gateway), the
/// identity header the gateway would forward (straight to a service, as a mesh peer
/// behind the gateway would), or nobody.
#[derive(Clone, Debug)]
pub struct Caller(Option<(&'static str, tonic::metadata::MetadataValue<tonic::metadata::Ascii>)>);

impl Caller {
    /// `authorization: Bearer <token>`; `None`: anonymous.
    pub fn bearer(token: Option<&str>) -> Result<Self> {
        let value = token.map(|t| format!("Bearer {t}").parse()).transpose().context("a token is ASCII")?;
        Ok(Self(value.map(|v| ("authorization", v))))
    }

    /// The gateway's identity header for `identity`.
    pub fn forwarded(identity: &cinema_mesh::identity::Identity) -> Result<Self> {
        let value = identity.header_value().parse().context("base64url is ASCII")?;
        Ok(Self(Some((cinema_mesh::identity::HEADER, value))))
    }
}

impl tonic::service::Interceptor for Caller {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some((name, value)) = &self.0 {
            request.metadata_mut().insert(*name, value.clone());
        }
        Ok(request)
    }
}

/// A channel whose every call comes from one [`Caller`].
pub type AuthChannel = tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Caller>;

/// What a token says.
#[derive(Clone, Debug)]
pub struct Claims {
    pub subject: String,
    pub roles: Vec<String>,
    pub issuer: String,
    pub audience: String,
    /// Seconds since the epoch.
    pub issued_at: u64,
    pub expires_at: u64,
}

impl Claims {
    /// `sub`, the dev issuer and audience, valid for [`DEFAULT_TTL`] from now.
    pub fn new(subject: &str) -> Self {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
        Self {
            subject: subject.to_owned(),
            roles: Vec::new(),
            issuer: DEV_ISSUER.to_owned(),
            audience: AUDIENCE.to_owned(),
            issued_at: now,
            expires_at: now + DEFAULT_TTL.as_secs(),
        }
    }

    pub fn roles(mut self, roles: &[&str]) -> Self {
        self.roles = roles.iter().map(|r| (*r).to_owned()).collect();
        self
    }

    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.expires_at = self.issued_at + ttl.as_secs();
        self
    }

    /// Expired `ago` (issued an hour before that).
    pub fn expired(mut self, ago: Duration) -> Self {
        self.expires_at = self.issued_at.saturating_sub(ago.as_secs());
        self.issued_at = self.expires_at.saturating_sub(3600);
        self
    }

    pub fn issuer(mut self, issuer: &str) -> Self {
        self.issuer = issuer.to_owned();
        self
    }

    pub fn audience(mut self, audience: &str) -> Self {
        self.audience = audience.to_owned();
        self
    }

    pub fn payload(&self) -> serde_json::Value {
        json!({
            "iss": self.issuer, "aud": self.audience, "sub": self.subject, "roles": self.roles,
            "iat": self.issued_at, "nbf": self.issued_at, "exp": self.expires_at,
        })
    }

    /// The same claims with `alg: none` and no signature (which must never pass).
    pub fn unsigned(&self) -> String {
        let header = json!({"alg": "none", "typ": "JWT"});
        format!("{}.{}.", B64.encode(header.to_string()), B64.encode(self.payload().to_string()))
    }
}

/// Parses `30s`, `15m`, `1h`, `2d` (a plain number is seconds).
pub fn parse_ttl(raw: &str) -> Result<Duration> {
    let raw = raw.trim();
    let (number, unit) = raw.split_at(raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len()));
    let n: u64 = number.parse().with_context(|| format!("`{raw}` is not a duration like 30s, 15m, 1h or 2d"))?;
    let seconds = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => anyhow::bail!("`{raw}`: the unit must be s, m, h or d"),
    };
    anyhow::ensure!(seconds > 0, "the ttl must be positive");
    Ok(Duration::from_secs(seconds))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_against_its_jwks() {
        let dir = tempfile::tempdir().unwrap();
        let issuer = DevIssuer::load_or_create(dir.path()).unwrap();
        let token = issuer.with_roles("kim", &["admin"]);
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let payload: serde_json::Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(payload["sub"], "kim");
        assert_eq!(payload["roles"], json!(["admin"]));
        assert_eq!(payload["iss"], DEV_ISSUER);

        let jwks: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(issuer.jwks_path()).unwrap()).unwrap();
        let key = &jwks["keys"][0];
        let mut point = vec![4u8];
        point.extend(B64.decode(key["x"].as_str().unwrap()).unwrap());
        point.extend(B64.decode(key["y"].as_str().unwrap()).unwrap());
        let public = ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, point);
        let signed = format!("{}.{}", parts[0], parts[1]);
        public.verify(signed.as_bytes(), &B64.decode(parts[2]).unwrap()).expect("the JWKS verifies the token");
        let stranger = DevIssuer::stranger().unwrap().customer("kim");
        let s: Vec<&str> = stranger.split('.').collect();
        assert!(public.verify(format!("{}.{}", s[0], s[1]).as_bytes(), &B64.decode(s[2]).unwrap()).is_err());
    }

    #[test]
    fn the_key_is_kept_and_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let first = DevIssuer::load_or_create(dir.path()).unwrap().jwks();
        let again = DevIssuer::load_or_create(dir.path()).unwrap().jwks();
        assert_eq!(first, again, "the same key on the next run");
        let mode = std::fs::metadata(dir.path().join("dev-issuer.pk8")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "only the owner may read the key");
    }

    #[test]
    fn ttls_parse() {
        assert_eq!(parse_ttl("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_ttl("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_ttl("15m").unwrap(), Duration::from_secs(900));
        assert!(parse_ttl("1y").is_err());
        assert!(parse_ttl("0s").is_err());
        assert!(parse_ttl("h").is_err());
    }
}
