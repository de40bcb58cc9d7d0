//! A throwaway PKI for tests: a CA, and a certificate for `127.0.0.1` it signed, made fresh for
//! each call. The unit tests of `sandkit-io` and the integration tests share it. Test support:
//! a failure panics.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

/// A CA and a certificate for `127.0.0.1` it signed, with the certificate's key.
#[derive(Debug)]
pub struct TestPki {
    /// The CA's certificate in PEM (what a client's `ca_file` holds).
    pub ca_pem: String,
    /// The server's certificate and its key, in PEM.
    pub cert_pem: String,
    pub key_pem: String,
    cert_der: rustls_pki_types::CertificateDer<'static>,
    key_der: Vec<u8>,
}

/// Paths of the three PEM files [`TestPki::write_to`] writes.
#[derive(Debug)]
pub struct PemFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

impl TestPki {
    /// A new CA and certificate.
    ///
    /// # Panics
    /// When rcgen cannot make them (it cannot fail with these parameters).
    pub fn generate() -> Self {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "sandkit test CA");
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let ca =
            rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
                .unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
            .unwrap()
            .signed_by(&leaf_key, &ca)
            .unwrap();
        TestPki {
            ca_pem: ca.pem(),
            cert_pem: leaf.pem(),
            key_pem: leaf_key.serialize_pem(),
            cert_der: leaf.der().clone(),
            key_der: leaf_key.serialize_der(),
        }
    }

    /// A TLS acceptor serving the certificate (HTTP/1.1 by ALPN).
    ///
    /// # Panics
    /// When rustls refuses the certificate (it cannot with one made by [`TestPki::generate`]).
    pub fn acceptor(&self) -> TlsAcceptor {
        let key = rustls_pki_types::PrivateKeyDer::Pkcs8(self.key_der.clone().into());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![self.cert_der.clone()], key)
            .unwrap();
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        TlsAcceptor::from(Arc::new(server))
    }

    /// The certificate, its key and the CA as `cert.pem`, `key.pem` and `ca.pem` in `dir`.
    ///
    /// # Panics
    /// When a file cannot be written.
    pub fn write_to(&self, dir: &Path) -> PemFiles {
        let files = PemFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            ca: dir.join("ca.pem"),
        };
        std::fs::write(&files.cert, &self.cert_pem).unwrap();
        std::fs::write(&files.key, &self.key_pem).unwrap();
        std::fs::write(&files.ca, &self.ca_pem).unwrap();
        files
    }
}
