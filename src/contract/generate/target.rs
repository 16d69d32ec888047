//! The target of a generated run made ready, with its live-safety rules.
//!
//! **Embedded simulator** (the default, or with planted defects): started with
//! [`REGISTRATIONS`] seeded devices; the model is the same configuration without defects, so both
//! sides hold the same registrations, and every attempt starts from the seeded state (reset).
//!
//! **Live target**: only with `--allow-writes` and on `--registration-id` devices (at most
//! [`REGISTRATIONS`] are used). Each is read first (preflight: wrong key, unknown app code or an
//! unknown device stop the run), then probed with a personalize to an identity of the run's own
//! namespace without `forceDepersonalize`: a device bound to a person from before the run answers
//! PERSONALIZATION_IMPOSSIBLE and stops the run (exit 2) — its binding cannot be read or put back,
//! and generated sequences depersonalize. Requests are paced by `--max-rps` (default
//! [`LIVE_DEFAULT_RPS`]). After the run every device is restored (`contract::live`).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::GenerateError;
use super::step::{Namespace, placeholder};
use crate::api::client::{Call, Client, ClientConfig};
use crate::api::preflight::{Device, Reading, preflight};
use crate::api::transport::Route;
use crate::api::{Operation, field, message_id};
use crate::contract::ContractError;
use crate::contract::result::{TargetInfo, TargetKind};
use crate::mock::{AdminClient, Defects, RunningSimulator, Simulator, SimulatorConfig};

/// Registrations a sequence works over.
pub const REGISTRATIONS: usize = 3;
/// Requests per second to a live target unless `--max-rps` says otherwise.
pub const LIVE_DEFAULT_RPS: u32 = 5;

/// A target ready for attempts.
pub struct Ready {
    pub info: TargetInfo,
    pub client: Client,
    pub ids: Vec<String>,
    pub model_config: SimulatorConfig,
    /// The embedded simulator, kept running for the run.
    pub simulator: Option<RunningSimulator>,
    /// A live target's devices as they were (for the restore).
    pub originals: Option<BTreeMap<String, Value>>,
    /// The admin reset URL of the embedded simulator.
    pub admin: Option<AdminClient>,
}

/// The embedded simulator with `defects` planted, `registrations` seeded.
pub async fn simulator(
    defects: Defects,
    registrations: usize,
    timeout: std::time::Duration,
) -> Result<Ready, GenerateError> {
    let model_config = SimulatorConfig {
        seed_registrations: registrations,
        ..SimulatorConfig::default()
    };
    let config = SimulatorConfig {
        defects,
        ..model_config.clone()
    };
    let sim = Simulator::start(config)
        .await
        .map_err(|e| GenerateError::Contract(ContractError::Simulator(e)))?;
    let facts = sim.facts().clone();
    let ids: Vec<String> = sim
        .registrations(0, registrations)
        .1
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let app_code = facts.applications.first().map(|a| a.app_code.clone());
    let client = client(
        &facts.base_url,
        facts.credentials.first(),
        app_code,
        timeout,
        Route::Direct,
    )?;
    Ok(Ready {
        info: TargetInfo {
            kind: TargetKind::Simulator,
            base_url: facts.base_url.clone(),
        },
        client,
        ids,
        model_config,
        simulator: Some(sim),
        originals: None,
        admin: Some(AdminClient::new(
            crate::api::transport::builder(Route::Direct)
                .build()
                .unwrap_or_default(),
            &facts.base_url,
            admin_authorization(&facts),
        )),
    })
}

/// The simulator's first credential as its admin routes take it (none: an empty value, which
/// they refuse, and the reset says so).
fn admin_authorization(facts: &crate::mock::Facts) -> reqwest::header::HeaderValue {
    facts
        .credentials
        .first()
        .and_then(|c| reqwest::header::HeaderValue::from_str(c.header_value().expose()).ok())
        .unwrap_or_else(|| reqwest::header::HeaderValue::from_static(""))
}

/// The client of a run: the first credential, the AppCode, the per-request timeout.
pub fn client(
    base_url: &str,
    credentials: Option<&crate::api::auth::Credentials>,
    app_code: Option<String>,
    timeout: std::time::Duration,
    route: Route,
) -> Result<Client, GenerateError> {
    let mut config = ClientConfig::new(base_url);
    config.route = route;
    config.timeout = timeout;
    config.credentials = credentials.cloned();
    config.app_code = app_code;
    Client::new(config).map_err(|e| GenerateError::Contract(ContractError::Client(e)))
}

/// A live target: preflight, the ownership probe, the originals kept.
pub async fn live(
    client: Client,
    registration_ids: &[String],
    run: u64,
) -> Result<Ready, GenerateError> {
    let ids: Vec<String> = registration_ids
        .iter()
        .take(REGISTRATIONS)
        .cloned()
        .collect();
    let devices: Vec<Device> = ids.iter().map(Device::new).collect();
    let states = preflight(&client, &devices)
        .await
        .map_err(|e| GenerateError::Contract(ContractError::Preflight(e)))?;
    let mut originals = BTreeMap::new();
    for state in states {
        match state.reading {
            Reading::Registration(v) => {
                originals.insert(state.device.registration_id, v);
            }
            Reading::Garbled(message) => {
                return Err(GenerateError::Server {
                    id: state.device.registration_id,
                    message,
                });
            }
            Reading::Unreadable(message) => {
                return Err(GenerateError::Contract(ContractError::Unreadable {
                    id: state.device.registration_id,
                    message,
                }));
            }
        }
    }
    let probe = Namespace::new(run, 0);
    for id in &ids {
        probe_unbound(&client, id, &probe).await?;
    }
    Ok(Ready {
        info: TargetInfo {
            kind: TargetKind::Live,
            base_url: client.base_url().to_owned(),
        },
        client,
        model_config: SimulatorConfig {
            seed_registrations: ids.len(),
            ..SimulatorConfig::default()
        },
        ids,
        simulator: None,
        originals: Some(originals),
        admin: None,
    })
}

/// Personalizes `id` to a fresh identity of the run without `forceDepersonalize`: a device of a
/// person from before the run refuses (PERSONALIZATION_IMPOSSIBLE).
async fn probe_unbound(client: &Client, id: &str, ns: &Namespace) -> Result<(), GenerateError> {
    let external_id = ns.value(&placeholder("ext", 99)).unwrap_or_default();
    let body = json!({ field::IDENTITY: { field::EXTERNAL_ID: external_id } });
    let call = Call::new(Operation::Personalize, id.to_owned()).json(body);
    let response = client
        .send(&call)
        .await
        .map_err(|e| GenerateError::Contract(ContractError::Client(e)))?;
    let refused = response.error_code().as_deref() == Some(message_id::PERSONALIZATION_IMPOSSIBLE);
    match response.status {
        200 => Ok(()),
        _ if refused => Err(GenerateError::BoundBefore { id: id.to_owned() }),
        status => Err(GenerateError::Probe {
            id: id.to_owned(),
            status,
        }),
    }
}
