//! The webhook's certificates, made the way MetalLB's cert-controller makes them: a
//! self-signed CA and a serving certificate it signs, for `<service>.<namespace>.svc` (the
//! name the API server checks when it calls a webhook through a Service reference, with
//! `.cluster.local` appended as a second name). Both are ECDSA P-256 (rcgen on the ring
//! backend), valid for [`VALIDITY`] from an hour before their making (clock skew), and
//! renewed once less than [`RENEW_BEFORE`] is left.
//!
//! The CA's key is not kept: a renewal makes a new CA as well. So that the API server still
//! trusts a replica serving the old certificate until it reloads, the new bundle's CA list
//! (`ca.crt`, the `caBundle`) is the new CA followed by the CA it replaces.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

/// How long a certificate made here is valid.
pub const VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);
/// A certificate with less than this left is renewed.
pub const RENEW_BEFORE: Duration = Duration::from_secs(30 * 24 * 3600);
/// How far back a certificate's validity starts (clocks of the API server and us differ).
const BACKDATE: Duration = Duration::from_secs(3600);

/// A CA list and a serving certificate with its key, all PEM (the Secret's `ca.crt`,
/// `tls.crt` and `tls.key`).
#[derive(Clone, PartialEq, Eq)]
pub struct Bundle {
    /// The CA that signed `cert`, then possibly the one it replaced.
    pub ca: String,
    pub cert: String,
    pub key: String,
}

impl std::fmt::Debug for Bundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bundle").field("ca", &self.ca).field("cert", &self.cert).finish()
    }
}

/// Why a certificate could not be made or used.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("making the webhook certificate for {name}: {source}")]
    Generate { name: String, source: rcgen::Error },
    #[error("the webhook's {what} is not valid PEM: {source}")]
    Pem { what: &'static str, source: rustls::pki_types::pem::Error },
    #[error("the webhook's {what} holds no certificate")]
    Empty { what: &'static str },
    #[error("the webhook's TLS setup: {0}")]
    Tls(#[from] rustls::Error),
    #[error("{0:?} is not a DNS name")]
    Name(String),
}

/// The ring provider (the one kube uses), explicitly: no process-wide default is needed.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The name the API server checks: `<service>.<namespace>.svc`.
pub fn service_name(service: &str, namespace: &str) -> String {
    format!("{service}.{namespace}.svc")
}

/// A new CA and a serving certificate for [`service_name`], valid from `now` (backdated an
/// hour) for [`VALIDITY`]; `previous_ca`, the CA being replaced, is kept after the new one.
pub fn generate(
    service: &str,
    namespace: &str,
    now: SystemTime,
    previous_ca: Option<&str>,
) -> Result<Bundle, CertError> {
    let name = service_name(service, namespace);
    let err = |source| CertError::Generate { name: name.clone(), source };
    let not_before = time::OffsetDateTime::from(now.checked_sub(BACKDATE).unwrap_or(now));
    let not_after = time::OffsetDateTime::from(now + VALIDITY);

    let mut ca_params = CertificateParams::default();
    ca_params.distinguished_name = DistinguishedName::new();
    ca_params.distinguished_name.push(DnType::CommonName, format!("ironlb webhook CA ({name})"));
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params.not_before = not_before;
    ca_params.not_after = not_after;
    let ca =
        CertifiedIssuer::self_signed(ca_params, KeyPair::generate().map_err(err)?).map_err(err)?;

    let mut params =
        CertificateParams::new(vec![name.clone(), format!("{name}.cluster.local")]).map_err(err)?;
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, name.clone());
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = not_before;
    params.not_after = not_after;
    let key = KeyPair::generate().map_err(err)?;
    let cert = params.signed_by(&key, &ca).map_err(err)?;

    let mut ca_list = ca.pem();
    if let Some(previous) = previous_ca.and_then(first_pem_certificate) {
        ca_list.push_str(&previous);
    }
    Ok(Bundle { ca: ca_list, cert: cert.pem(), key: key.serialize_pem() })
}

/// The first certificate of a PEM list, as PEM.
fn first_pem_certificate(pem: &str) -> Option<String> {
    const END: &str = "-----END CERTIFICATE-----";
    let start = pem.find("-----BEGIN CERTIFICATE-----")?;
    let end = pem[start..].find(END)? + start + END.len();
    Some(format!("{}\n", &pem[start..end]))
}

fn certificates(pem: &str, what: &'static str) -> Result<Vec<CertificateDer<'static>>, CertError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| CertError::Pem { what, source })?;
    if certs.is_empty() {
        return Err(CertError::Empty { what });
    }
    Ok(certs)
}

/// A root store holding every certificate of the PEM list `ca`.
pub fn roots(ca: &str) -> Result<rustls::RootCertStore, CertError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certificates(ca, "CA list")? {
        roots.add(cert)?;
    }
    Ok(roots)
}

/// Whether `bundle` is usable at `at` by a client that checks `name`: the certificate
/// chains to one of its CAs, is valid then, names `name`, and the key parses.
pub fn check(bundle: &Bundle, name: &str, at: SystemTime) -> Result<(), CertError> {
    PrivateKeyDer::from_pem_slice(bundle.key.as_bytes())
        .map_err(|source| CertError::Pem { what: "key", source })?;
    let leaf = certificates(&bundle.cert, "certificate")?;
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots(&bundle.ca)?),
        provider(),
    )
    .build()
    .map_err(|e| CertError::Tls(rustls::Error::General(e.to_string())))?;
    let server = ServerName::try_from(name.to_owned()).map_err(|_| CertError::Name(name.into()))?;
    let since_epoch = at.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    use rustls::client::danger::ServerCertVerifier;
    verifier.verify_server_cert(
        &leaf[0],
        &leaf[1..],
        &server,
        &[],
        UnixTime::since_unix_epoch(since_epoch),
    )?;
    Ok(())
}

/// The listener's TLS configuration (TLS 1.2 and 1.3, HTTP/1.1).
pub fn server_config(bundle: &Bundle) -> Result<Arc<rustls::ServerConfig>, CertError> {
    let chain = certificates(&bundle.cert, "certificate")?;
    let key = PrivateKeyDer::from_pem_slice(bundle.key.as_bytes())
        .map_err(|source| CertError::Pem { what: "key", source })?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A client configuration trusting only the CA list `ca` (what the API server does with
/// `caBundle`); for tests and tools.
pub fn client_config(ca: &str) -> Result<Arc<rustls::ClientConfig>, CertError> {
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots(ca)?)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(24 * 3600);

    #[test]
    fn a_new_bundle_is_valid_for_the_service_name_until_it_expires() {
        let now = SystemTime::now();
        let bundle = generate("ironlb-webhook-service", "ironlb-system", now, None).unwrap();
        let name = "ironlb-webhook-service.ironlb-system.svc";
        check(&bundle, name, now).unwrap();
        check(&bundle, &format!("{name}.cluster.local"), now).unwrap();
        check(&bundle, name, now + VALIDITY - DAY).unwrap();
        assert!(check(&bundle, name, now + VALIDITY + DAY).is_err(), "expired");
        assert!(check(&bundle, "other.ironlb-system.svc", now).is_err(), "wrong name");
        assert!(check(&bundle, name, now - 2 * BACKDATE).is_err(), "not yet valid");
        server_config(&bundle).unwrap();
        client_config(&bundle.ca).unwrap();
    }

    #[test]
    fn a_renewed_bundle_lists_the_new_ca_then_the_one_it_replaces_and_no_other() {
        let now = SystemTime::now();
        let first = generate("s", "ns", now, None).unwrap();
        let second = generate("s", "ns", now, Some(&first.ca)).unwrap();
        let third = generate("s", "ns", now, Some(&second.ca)).unwrap();
        assert_eq!(certificates(&first.ca, "ca").unwrap().len(), 1);
        assert_eq!(certificates(&second.ca, "ca").unwrap().len(), 2);
        assert!(second.ca.ends_with(&first.ca), "the old CA stays trusted");
        assert_eq!(certificates(&third.ca, "ca").unwrap().len(), 2);
        assert!(!third.ca.contains(&first.ca), "only the one replaced");
        // The old certificate is still trusted through the new list.
        let old_under_new = Bundle { ca: second.ca.clone(), ..first.clone() };
        check(&old_under_new, "s.ns.svc", now).unwrap();
        // A certificate from another CA is not.
        let foreign = Bundle { ca: first.ca.clone(), ..third };
        assert!(check(&foreign, "s.ns.svc", now).is_err());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let bad = Bundle { ca: "nope".into(), cert: String::new(), key: "x".into() };
        assert!(check(&bad, "s.ns.svc", SystemTime::now()).is_err());
        assert!(server_config(&bad).is_err());
        assert!(
            client_config("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
                .is_err()
        );
    }
}
