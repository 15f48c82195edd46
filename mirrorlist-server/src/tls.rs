//! TLS termination with rustls: `--tls-cert` and `--tls-key` (PEM), offered with ALPN `h2`
//! and `http/1.1`. The certificate and key are read again when either file changes (a renewal
//! by certbot or cert-manager takes effect without a restart); a pair that does not load is
//! refused and the one in use stays.

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

#[derive(Debug, thiserror::Error)]
#[error("TLS: {0}")]
pub struct TlsError(String);

/// The certificate in use, replaceable while connections are accepted.
#[derive(Debug)]
pub struct Certs {
    current: RwLock<Arc<CertifiedKey>>,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Reads a certificate chain and its private key.
pub fn load(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| TlsError(format!("{}: {e}", cert.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError(format!("{}: {e}", cert.display())))?;
    if chain.is_empty() {
        return Err(TlsError(format!(
            "{}: no certificate (expected PEM \"-----BEGIN CERTIFICATE-----\")",
            cert.display()
        )));
    }
    let der = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| TlsError(format!("{}: no private key ({e})", key.display())))?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&der)
        .map_err(|e| TlsError(format!("{}: {e}", key.display())))?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|e| {
        TlsError(format!(
            "{} does not belong to {}: {e}",
            key.display(),
            cert.display()
        ))
    })?;
    Ok(certified)
}

impl Certs {
    pub fn open(cert: &Path, key: &Path) -> Result<Arc<Certs>, TlsError> {
        Ok(Arc::new(Certs {
            current: RwLock::new(Arc::new(load(cert, key)?)),
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
        }))
    }

    /// Reads the files again; the pair in use stays when they do not load.
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = load(&self.cert, &self.key)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(fresh);
        Ok(())
    }

    /// The server configuration: these certificates, ALPN h2 then http/1.1.
    pub fn server_config(self: &Arc<Self>) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default versions")
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

impl ResolvesServerCert for Certs {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let (c, k) = (
            dir.join(format!("{name}.crt")),
            dir.join(format!("{name}.key")),
        );
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (c, k)
    }

    #[test]
    fn pairs_load_mismatches_are_refused_and_reloads_keep_the_last_good_pair() {
        let dir = tempfile::tempdir().unwrap();
        let (a_cert, a_key) = pair(dir.path(), "a.test");
        let (b_cert, b_key) = pair(dir.path(), "b.test");
        assert!(load(&a_cert, &a_key).is_ok());
        let err = load(&a_cert, &b_key).unwrap_err().to_string();
        assert!(err.contains("does not belong to"), "{err}");
        let err = load(&a_key, &a_key).unwrap_err().to_string();
        assert!(err.contains("no certificate"), "{err}");
        let err = load(&a_cert, &a_cert).unwrap_err().to_string();
        assert!(err.contains("no private key"), "{err}");

        let certs = Certs::open(&a_cert, &a_key).unwrap();
        let first = certs.current.read().unwrap().cert[0].clone();
        // A renewal: both files replaced.
        std::fs::copy(&b_cert, &a_cert).unwrap();
        std::fs::copy(&b_key, &a_key).unwrap();
        certs.reload().unwrap();
        let second = certs.current.read().unwrap().cert[0].clone();
        assert_ne!(first, second);
        // Half a renewal (the key not yet written): refused, the pair in use stays.
        std::fs::write(&a_key, "").unwrap();
        assert!(certs.reload().is_err());
        assert_eq!(certs.current.read().unwrap().cert[0], second);
    }
}
