//! Certificates for the simulated mirrors: one CA (which the checker is told to trust) signs
//! a certificate per host name on first use; mirrors meant to fail TLS get a self-signed one.

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

pub struct CertStore {
    ca: CertifiedIssuer<'static, KeyPair>,
    self_signed: HashSet<String>,
    cache: Mutex<HashMap<String, Arc<CertifiedKey>>>,
}

impl std::fmt::Debug for CertStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertStore")
            .field("self_signed", &self.self_signed.len())
            .finish()
    }
}

fn certified(cert: &CertificateDer<'static>, key: &KeyPair) -> anyhow::Result<Arc<CertifiedKey>> {
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let signing = rustls::crypto::ring::sign::any_supported_type(&der)?;
    Ok(Arc::new(CertifiedKey::new(vec![cert.clone()], signing)))
}

impl CertStore {
    pub fn new(self_signed: HashSet<String>) -> anyhow::Result<CertStore> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "mirror-sim test CA");
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate()?)?;
        Ok(CertStore {
            ca,
            self_signed,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The CA certificate, PEM: what a checker must trust.
    pub fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    /// A certificate for `host` (a name or an address) signed by the CA, and its key, both
    /// PEM: for servers the tests run outside this process.
    pub fn issue_pem(&self, host: &str) -> anyhow::Result<(String, String)> {
        let key = KeyPair::generate()?;
        let params = CertificateParams::new(vec![host.to_string()])?;
        Ok((params.signed_by(&key, &self.ca)?.pem(), key.serialize_pem()))
    }

    fn issue(&self, host: &str) -> anyhow::Result<Arc<CertifiedKey>> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(vec![host.to_string()])?;
        params.distinguished_name.push(DnType::CommonName, host);
        let cert = if self.self_signed.contains(host) {
            params.self_signed(&key)?
        } else {
            params.signed_by(&key, &self.ca)?
        };
        certified(cert.der(), &key)
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let host = hello
            .server_name()
            .unwrap_or("localhost")
            .to_ascii_lowercase();
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(key) = cache.get(&host) {
            return Some(key.clone());
        }
        let key = self.issue(&host).ok()?;
        cache.insert(host, key.clone());
        Some(key)
    }
}
