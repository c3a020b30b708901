//! Certificate bootstrap, as MetalLB's cert-controller: the bundle lives in a Secret
//! (type `kubernetes.io/tls`: `ca.crt`, `tls.crt`, `tls.key`), created when missing,
//! reused while [`cert::check`] passes [`cert::RENEW_BEFORE`] from now, replaced by a new
//! one otherwise; its CA list is patched into the `caBundle` of every webhook of the
//! `ValidatingWebhookConfiguration` (and, when configured, the `failurePolicy`).
//!
//! Several replicas may race: a create that finds the Secret already there (409), or a
//! replace whose resourceVersion is stale (409), reads the Secret again and uses what the
//! other replica wrote. The configuration is patched with its resourceVersion as a
//! precondition for the same reason.

use std::collections::BTreeMap;
use std::time::SystemTime;

use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

use super::cert::{self, Bundle, CertError};

/// Where the bundle is kept and published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Namespace of the Secret and of the Service.
    pub namespace: String,
    /// The webhook's Service (the certificate's name is `<service>.<namespace>.svc`).
    pub service: String,
    /// The Secret holding the bundle.
    pub secret: String,
    /// The `ValidatingWebhookConfiguration` whose `caBundle`s are patched.
    pub configuration: String,
    /// `Fail` or `Ignore` to set on every webhook; `None` keeps the manifest's.
    pub failure_policy: Option<String>,
}

/// Why the bundle could not be loaded, made or published.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(transparent)]
    Cert(#[from] CertError),
    #[error("Secret {namespace}/{name}: {source}")]
    Secret { namespace: String, name: String, source: kube::Error },
    #[error("Secret {namespace}/{name} kept changing under us; giving up for now")]
    Contended { namespace: String, name: String },
    #[error("ValidatingWebhookConfiguration {name}: {source}")]
    Configuration { name: String, source: kube::Error },
    #[error("ValidatingWebhookConfiguration {0} does not exist")]
    NoConfiguration(String),
}

const CA: &str = "ca.crt";
const CERT: &str = "tls.crt";
const KEY: &str = "tls.key";
/// Reads and writes of the Secret tried before [`BootstrapError::Contended`].
const ATTEMPTS: usize = 4;

fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

/// The bundle a Secret holds, if it holds all three parts as text.
pub fn from_secret(secret: &Secret) -> Option<Bundle> {
    let data = secret.data.as_ref()?;
    let text = |key: &str| String::from_utf8(data.get(key)?.0.clone()).ok();
    Some(Bundle { ca: text(CA)?, cert: text(CERT)?, key: text(KEY)? })
}

fn secret_data(bundle: &Bundle) -> BTreeMap<String, ByteString> {
    [(CA, &bundle.ca), (CERT, &bundle.cert), (KEY, &bundle.key)]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), ByteString(v.clone().into_bytes())))
        .collect()
}

/// The Secret's bundle if it is good for [`cert::RENEW_BEFORE`] more, else a new one
/// written into it (the Secret created if missing). `now` is the time checked against.
pub async fn ensure_secret(
    client: &Client,
    target: &Target,
    now: SystemTime,
) -> Result<Bundle, BootstrapError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), &target.namespace);
    let name = cert::service_name(&target.service, &target.namespace);
    let err = |source| BootstrapError::Secret {
        namespace: target.namespace.clone(),
        name: target.secret.clone(),
        source,
    };
    for _ in 0..ATTEMPTS {
        let found = api.get_opt(&target.secret).await.map_err(err)?;
        let existing = found.as_ref().and_then(from_secret);
        if let Some(bundle) = &existing {
            match cert::check(bundle, &name, now + cert::RENEW_BEFORE) {
                Ok(()) => return Ok(bundle.clone()),
                Err(e) => tracing::info!(secret = %target.secret, reason = %e,
                    "the webhook certificate is missing, invalid or near its end; making a new one"),
            }
        }
        let fresh = cert::generate(
            &target.service,
            &target.namespace,
            now,
            existing.as_ref().map(|b| b.ca.as_str()),
        )?;
        let written = match found {
            None => {
                let secret = Secret {
                    metadata: kube::api::ObjectMeta {
                        name: Some(target.secret.clone()),
                        namespace: Some(target.namespace.clone()),
                        labels: Some(
                            [("app.kubernetes.io/name".to_owned(), "ironlb".to_owned())].into(),
                        ),
                        ..Default::default()
                    },
                    type_: Some("kubernetes.io/tls".to_owned()),
                    data: Some(secret_data(&fresh)),
                    ..Default::default()
                };
                api.create(&PostParams::default(), &secret).await
            }
            Some(mut secret) => {
                // resourceVersion kept: a replica that renewed first wins (409 here).
                secret.data = Some(secret_data(&fresh));
                api.replace(&target.secret, &PostParams::default(), &secret).await
            }
        };
        match written {
            Ok(_) => {
                tracing::info!(secret = %target.secret, "wrote a new webhook certificate");
                return Ok(fresh);
            }
            Err(e) if is_conflict(&e) => continue,
            Err(e) => return Err(err(e)),
        }
    }
    Err(BootstrapError::Contended {
        namespace: target.namespace.clone(),
        name: target.secret.clone(),
    })
}

/// Sets `caBundle` to the bundle's CA list (and `failurePolicy` when configured) on every
/// webhook of the configuration; whether anything had to change.
pub async fn publish_ca(
    client: &Client,
    target: &Target,
    bundle: &Bundle,
) -> Result<bool, BootstrapError> {
    let api: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    let err = |source| BootstrapError::Configuration { name: target.configuration.clone(), source };
    let ca = ByteString(bundle.ca.clone().into_bytes());
    for _ in 0..ATTEMPTS {
        let Some(mut vwc) = api.get_opt(&target.configuration).await.map_err(err)? else {
            return Err(BootstrapError::NoConfiguration(target.configuration.clone()));
        };
        let mut changed = false;
        for webhook in vwc.webhooks.iter_mut().flatten() {
            if webhook.client_config.ca_bundle.as_ref() != Some(&ca) {
                webhook.client_config.ca_bundle = Some(ca.clone());
                changed = true;
            }
            if let Some(policy) = &target.failure_policy
                && webhook.failure_policy.as_ref() != Some(policy)
            {
                webhook.failure_policy = Some(policy.clone());
                changed = true;
            }
        }
        if !changed {
            return Ok(false);
        }
        // A merge patch replaces the list whole; the resourceVersion makes it conditional.
        let patch = json!({
            "metadata": {"resourceVersion": vwc.metadata.resource_version},
            "webhooks": vwc.webhooks,
        });
        match api.patch(&target.configuration, &PatchParams::default(), &Patch::Merge(&patch)).await
        {
            Ok(_) => {
                tracing::info!(configuration = %target.configuration, "caBundle published");
                return Ok(true);
            }
            Err(e) if is_conflict(&e) => continue,
            Err(e) => return Err(err(e)),
        }
    }
    Err(BootstrapError::Contended { namespace: String::new(), name: target.configuration.clone() })
}
