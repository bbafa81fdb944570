//! A local certificate authority for the gateway's TLS (`cargo xtask up --tls`): a CA and
//! the certificate it signed for `localhost` and `127.0.0.1`, kept in a directory so
//! that clients trust the same CA from one run to the next (`curl --cacert`,
//! `grpcurl -cacert`). The private keys are readable by their owner only.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use rcgen::{KeyUsagePurpose, SanType};

use crate::gateway::GatewayTls;

/// The CA (`ca.pem`) and the gateway's certificate and key, in one directory.
pub struct LocalCa {
    dir: PathBuf,
}

impl LocalCa {
    /// The files in `dir`, made when any is missing (a new CA then: trust it again).
    pub fn load_or_create(dir: &Path) -> Result<Self> {
        let ca = Self { dir: dir.to_path_buf() };
        if [ca.ca_file(), ca.gateway().cert_chain, ca.gateway().private_key].iter().all(|f| f.is_file()) {
            return Ok(ca);
        }
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let ca_key = KeyPair::generate().context("a CA key")?;
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "cinema local CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = params.self_signed(&ca_key).context("the CA certificate")?;
        let issuer = Issuer::new(params, ca_key);

        let key = KeyPair::generate().context("the gateway's key")?;
        let mut server = CertificateParams::new(["localhost".to_owned()]).context("a server name")?;
        server.subject_alt_names.push(SanType::IpAddress([127, 0, 0, 1].into()));
        server.distinguished_name.push(DnType::CommonName, "localhost");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = server.signed_by(&key, &issuer).context("the gateway's certificate")?;

        let gateway = ca.gateway();
        write(&ca.ca_file(), ca_cert.pem().as_bytes(), 0o644)?;
        write(&gateway.cert_chain, cert.pem().as_bytes(), 0o644)?;
        write(&gateway.private_key, key.serialize_pem().as_bytes(), 0o600)?;
        Ok(ca)
    }

    /// The CA's certificate: what clients trust.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The gateway's certificate and key.
    pub fn gateway(&self) -> GatewayTls {
        GatewayTls { cert_chain: self.dir.join("gateway.pem"), private_key: self.dir.join("gateway-key.pem") }
    }
}

fn write(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes).with_context(|| format!("writing {}", path.display()))
}
