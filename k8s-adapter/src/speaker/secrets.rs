//! `BGPPeer.spec.passwordSecret`: the TCP MD5 password (RFC 2385) read from a Secret, as
//! MetalLB does: type `kubernetes.io/basic-auth`, key `password`, in the adapter's own
//! namespace (the speaker may read Secrets there and nowhere else, see `deploy/base/rbac.yaml`).
//!
//! The speaker watches the Secrets of its namespace; when the config is loaded (and on any
//! Secret change) [`resolve`] replaces each readable [`Password::Secret`] by the password
//! itself. A Secret that cannot be used leaves the reference in place, so that peer is
//! skipped ([`super::bgpd::PeerSkip::PasswordUnreadable`]) rather than configured without
//! the password its router expects; the reason is returned for the log.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use thiserror::Error;

use crate::config::{Config, Password};

/// The Secret type MetalLB requires for BGP passwords.
pub const BASIC_AUTH: &str = "kubernetes.io/basic-auth";
/// The data key holding the password.
pub const PASSWORD_KEY: &str = "password";

/// Why a peer's password Secret cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SecretError {
    #[error("BGPPeer {peer}: Secret {namespace}/{name} not found")]
    NotFound { peer: String, namespace: String, name: String },
    #[error("BGPPeer {peer}: Secret {name} is in namespace {namespace}; only {ours} is readable")]
    OtherNamespace { peer: String, name: String, namespace: String, ours: String },
    #[error("BGPPeer {peer}: Secret {name} has type {found:?}, not {BASIC_AUTH}")]
    WrongType { peer: String, name: String, found: String },
    #[error("BGPPeer {peer}: Secret {name} has no {PASSWORD_KEY:?} key")]
    NoPassword { peer: String, name: String },
    #[error("BGPPeer {peer}: Secret {name}: the password is not UTF-8")]
    NotUtf8 { peer: String, name: String },
}

/// The password in `secret`, checked as MetalLB checks it.
fn password_of(peer: &str, name: &str, secret: &Secret) -> Result<String, SecretError> {
    let found = secret.type_.as_deref().unwrap_or("Opaque");
    if found != BASIC_AUTH {
        return Err(SecretError::WrongType {
            peer: peer.to_owned(),
            name: name.to_owned(),
            found: found.to_owned(),
        });
    }
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(PASSWORD_KEY))
        .map(|b| b.0.clone())
        .or_else(|| {
            secret.string_data.as_ref().and_then(|d| d.get(PASSWORD_KEY)).map(|s| s.clone().into())
        })
        .ok_or_else(|| SecretError::NoPassword { peer: peer.to_owned(), name: name.to_owned() })?;
    String::from_utf8(bytes)
        .map_err(|_| SecretError::NotUtf8 { peer: peer.to_owned(), name: name.to_owned() })
}

/// Replaces every readable Secret reference in `config` by its password; `lookup` finds a
/// Secret of `namespace` (ours) by name. Returns why the others could not be read.
pub fn resolve(
    config: &mut Config,
    namespace: &str,
    lookup: impl Fn(&str) -> Option<Arc<Secret>>,
) -> Vec<SecretError> {
    let mut errors = Vec::new();
    for peer in &mut config.peers {
        let Some(Password::Secret { namespace: wanted, name }) = &peer.password else {
            continue;
        };
        let result = match wanted.as_deref() {
            Some(other) if other != namespace => Err(SecretError::OtherNamespace {
                peer: peer.name.clone(),
                name: name.clone(),
                namespace: other.to_owned(),
                ours: namespace.to_owned(),
            }),
            _ => lookup(name)
                .ok_or_else(|| SecretError::NotFound {
                    peer: peer.name.clone(),
                    namespace: namespace.to_owned(),
                    name: name.clone(),
                })
                .and_then(|secret| password_of(&peer.name, name, &secret)),
        };
        match result {
            Ok(password) => peer.password = Some(Password::Plain(password)),
            Err(e) => errors.push(e),
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use serde_json::Value;

    use super::*;
    use crate::config::{Resources, build, crd};

    fn config(secret_namespace: Option<&str>) -> Config {
        let mut reference = json!({"name": "pw"});
        if let Some(ns) = secret_namespace {
            reference["namespace"] = json!(ns);
        }
        let peer: crd::BgpPeer = serde_json::from_value(json!({
            "apiVersion": "ironlb.io/v1beta1", "kind": "BGPPeer",
            "metadata": {"name": "tor", "namespace": "ironlb-system"},
            "spec": {"myASN": 64500, "peerASN": 64501, "peerAddress": "192.0.2.1",
                     "passwordSecret": reference}
        }))
        .unwrap();
        let built = build(&Resources { peers: vec![peer], ..Resources::default() });
        assert!(built.errors.is_empty(), "{:?}", built.errors);
        built.config
    }

    fn secret(type_: &str, data: Value) -> Arc<Secret> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": "pw", "namespace": "ironlb-system"},
                "type": type_, "data": data
            }))
            .unwrap(),
        )
    }

    #[test]
    fn a_basic_auth_secret_gives_the_password() {
        // "s3cret" in base64.
        let secrets = BTreeMap::from([("pw", secret(BASIC_AUTH, json!({"password": "czNjcmV0"})))]);
        for ns in [None, Some("ironlb-system")] {
            let mut cfg = config(ns);
            let errors = resolve(&mut cfg, "ironlb-system", |n| secrets.get(n).cloned());
            assert!(errors.is_empty(), "{errors:?}");
            assert_eq!(cfg.peers[0].password, Some(Password::Plain("s3cret".into())));
        }
    }

    #[test]
    fn unusable_secrets_leave_the_reference_and_say_why() {
        // (case, the reference's namespace, the Secret found)
        type Case = (&'static str, Option<&'static str>, Option<Arc<Secret>>);
        let cases: Vec<Case> = vec![
            ("not found", None, None),
            (
                "other namespace",
                Some("elsewhere"),
                Some(secret(BASIC_AUTH, json!({"password": "eA=="}))),
            ),
            ("wrong type", None, Some(secret("Opaque", json!({"password": "eA=="})))),
            ("no password", None, Some(secret(BASIC_AUTH, json!({"username": "eA=="})))),
            ("not utf-8", None, Some(secret(BASIC_AUTH, json!({"password": "/w=="})))),
        ];
        for (name, ns, found) in cases {
            let mut cfg = config(ns);
            let errors = resolve(&mut cfg, "ironlb-system", |_| found.clone());
            assert_eq!(errors.len(), 1, "{name}");
            let expected = match name {
                "not found" => matches!(errors[0], SecretError::NotFound { .. }),
                "other namespace" => matches!(errors[0], SecretError::OtherNamespace { .. }),
                "wrong type" => matches!(errors[0], SecretError::WrongType { .. }),
                "no password" => matches!(errors[0], SecretError::NoPassword { .. }),
                _ => matches!(errors[0], SecretError::NotUtf8 { .. }),
            };
            assert!(expected, "{name}: {:?}", errors[0]);
            assert!(matches!(cfg.peers[0].password, Some(Password::Secret { .. })), "{name}");
        }
    }
}
