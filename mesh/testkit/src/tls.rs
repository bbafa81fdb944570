//! A throwaway certificate authority, made at test time, and the certificate it
//! signed for `127.0.0.1` and `localhost`: what an HTTPS [`FakeServer`] shows,
//! and what the app under test is told to trust (a PEM file).
//!
//! [`FakeServer`]: crate::fake_http::FakeServer

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use rcgen::{KeyUsagePurpose, SanType};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

pub struct TestCa {
    /// The CA's certificate, PEM; removed with the handle.
    ca_file: tempfile::NamedTempFile,
    server: Arc<rustls::ServerConfig>,
}

impl TestCa {
    /// A new CA and a server certificate it signed (ECDSA P-256, ring).
    pub fn new() -> Self {
        let ca_key = KeyPair::generate().expect("a CA key");
        let mut ca = CertificateParams::default();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, "cinema test CA");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca.self_signed(&ca_key).expect("a self-signed CA certificate");
        let issuer = Issuer::new(ca, ca_key);

        let server_key = KeyPair::generate().expect("a server key");
        let mut server = CertificateParams::new(["localhost".to_owned()]).expect("a valid name");
        server.subject_alt_names.push(SanType::IpAddress([127, 0, 0, 1].into()));
        server.distinguished_name.push(DnType::CommonName, "localhost");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server.signed_by(&server_key, &issuer).expect("a server certificate");

        let mut ca_file = tempfile::Builder::new().suffix(".pem").tempfile().expect("a temporary file");
        ca_file.write_all(ca_cert.pem().as_bytes()).expect("write the CA file");
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![server_cert.der().clone()], key)
            .expect("a server TLS config");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Self { ca_file, server: Arc::new(config) }
    }

    /// The CA's certificate as a PEM file: what `CINEMA_TLS_CA_FILE` names.
    pub fn ca_file(&self) -> &Path {
        self.ca_file.path()
    }

    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.server.clone())
    }
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}
