//! Outbound HTTP(S) to third parties (the Kakao API, a webhook, a partner):
//! the `reqwest::Client` a service sends with. `http://` URLs work as they
//! always did; `https://` ones are verified by rustls (the ring provider)
//! against the system's roots plus, when configured, the CAs of one extra PEM
//! file (a private CA; a test's throwaway one).
//!
//! Invariant: the trust is loaded once, at start: a CA file that cannot be read
//! or holds no usable certificate stops the process then, not at the first send.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Whom outbound HTTPS trusts.
#[derive(Clone, Debug)]
pub struct Tls {
    config: rustls::ClientConfig,
}

impl Tls {
    /// The system's roots, plus every certificate in the PEM file `extra_ca`.
    pub fn load(extra_ca: Option<&Path>) -> anyhow::Result<Self> {
        let mut roots = rustls::RootCertStore::empty();
        let system = rustls_native_certs::load_native_certs();
        let (_, unusable) = roots.add_parsable_certificates(system.certs);
        if !system.errors.is_empty() || unusable > 0 {
            let errors: Vec<String> = system.errors.iter().map(ToString::to_string).collect();
            tracing::warn!(message = "Some system root certificates could not be loaded.", unusable, ?errors);
        }
        if let Some(path) = extra_ca {
            let added = add_pem_file(&mut roots, path).with_context(|| format!("the CA file {}", path.display()))?;
            tracing::info!(message = "Trusting an extra CA file.", path = %path.display(), certificates = added);
        }
        if roots.is_empty() {
            tracing::warn!(message = "No trusted root certificates: https:// endpoints will fail.");
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_root_certificates(roots)
            .with_no_client_auth();
        // What reqwest asks for itself without HTTP/2.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self { config })
    }

    /// A client whose connect, and whole request, time out after `timeout`.
    pub fn client(&self, timeout: Duration) -> anyhow::Result<reqwest::Client> {
        reqwest::Client::builder()
            .tls_backend_preconfigured(self.config.clone())
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .context("build the HTTP client")
    }
}

/// Adds the certificates of a PEM file to `roots`; how many.
fn add_pem_file(roots: &mut rustls::RootCertStore, path: &Path) -> anyhow::Result<usize> {
    let certs =
        CertificateDer::pem_file_iter(path).context("open")?.collect::<Result<Vec<_>, _>>().context("read PEM")?;
    anyhow::ensure!(!certs.is_empty(), "no PEM certificate in it");
    for cert in &certs {
        roots.add(cert.clone()).context("not a usable CA certificate")?;
    }
    Ok(certs.len())
}

/// Why a request failed in the TLS handshake, if it did
/// (e.g. `invalid peer certificate: UnknownIssuer`).
pub fn tls_failure(error: &reqwest::Error) -> Option<String> {
    let mut next = std::error::Error::source(error);
    while let Some(e) = next {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        // An io::Error hides what it wraps from `source()`; it can wrap another.
        next = match e.downcast_ref::<io::Error>().and_then(io::Error::get_ref) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use cinema_testkit::fake_http::FakeServer;
    use cinema_testkit::tls::TestCa;

    use super::*;

    fn error_of(file: &[u8]) -> String {
        let path = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(path.path(), file).unwrap();
        format!("{:#}", Tls::load(Some(path.path())).unwrap_err())
    }

    #[test]
    fn a_ca_file_that_is_missing_empty_or_malformed_is_refused_with_its_path() {
        let missing = Tls::load(Some(Path::new("/nonexistent/ca.pem"))).unwrap_err();
        assert!(format!("{missing:#}").starts_with("the CA file /nonexistent/ca.pem: open"), "{missing:#}");
        assert!(error_of(b"").ends_with("no PEM certificate in it"), "{}", error_of(b""));
        let not_pem = error_of(b"just some text\n");
        assert!(not_pem.ends_with("no PEM certificate in it"), "{not_pem}");
        let broken = error_of(b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n");
        assert!(broken.contains("read PEM"), "{broken}");
        let not_a_cert = error_of(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        assert!(not_a_cert.contains("not a usable CA certificate"), "{not_a_cert}");
    }

    #[tokio::test]
    async fn https_is_trusted_with_the_extra_ca_and_refused_without_it() {
        let ca = TestCa::new();
        let server = FakeServer::start_https("/hook", &ca).await;
        let timeout = Duration::from_secs(5);

        let trusted = Tls::load(Some(ca.ca_file())).unwrap().client(timeout).unwrap();
        let response = trusted.post(&server.url).body("over TLS").send().await.expect("an HTTPS answer");
        assert_eq!(response.status(), 200);
        let [request] = &server.requests()[..] else { panic!("one request") };
        assert_eq!((request.path.as_str(), &request.body[..]), ("/hook", &b"over TLS"[..]));

        let untrusted = Tls::load(None).unwrap().client(timeout).unwrap();
        let error = untrusted.post(&server.url).send().await.expect_err("an unknown CA");
        assert!(error.is_connect(), "{error:?}");
        assert_eq!(tls_failure(&error).as_deref(), Some("invalid peer certificate: UnknownIssuer"));
        assert_eq!(server.requests().len(), 1, "nothing more reached the server");
    }

    #[tokio::test]
    async fn plain_http_works_as_before() {
        let server = FakeServer::start("/hook").await;
        let client = Tls::load(None).unwrap().client(Duration::from_secs(5)).unwrap();
        assert_eq!(client.get(&server.url).send().await.unwrap().status(), 200);
        let refused = client.get("http://127.0.0.1:9/").send().await.unwrap_err();
        assert!(refused.is_connect() && tls_failure(&refused).is_none(), "{refused:?}");
    }
}
