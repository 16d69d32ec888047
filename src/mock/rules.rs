//! The simulator's rules: one [`SimRequest`] in, one [`SimResponse`] out, over the state, with
//! no HTTP in between. [`Rules::answer`] is the whole API as the simulator implements it
//! (auth, AppCode, flags, body, then the state; choice `request.check_order`), callable
//! in-process: a model to compare a live API with, or a quick way to ask what the simulator
//! would say.
//!
//! The HTTP edge (`http`) calls the same two halves with a body read in between: [`Rules::admit`]
//! (the head's checks) and [`Rules::apply`] (body and state), and decides the faults around
//! them. A write the drop-writes fault drops is run by the same code, unkept (`State::unkept`).
//! The planted defects about hearing a request or answering a write (flags ignored, attributes
//! ignored, PATCH answers that differ from what is stored, depersonalize without effect) are
//! decided here, around the state; the state keeps only those that change a data rule.
//!
//! This module must not print, must not know HTTP types, and must not panic on any input.

use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::catalog::{AppEntry, Tables};
use super::config::SimulatorConfig;
use super::defects::{Defect, Defects};
use super::request::SimRequest;
use super::response::{Refusal, Renderer, SimResponse};
use super::state::{
    InvariantViolation, OpError, PatchInput, PersonalizeFlags, RegistrationView, State,
};
use super::wire::{Catalog, Prerendered};
use super::{MockError, decode, seed, validate};
use crate::api::Operation;
use crate::api::auth::Credentials;

/// Defects under which a PATCH answers what it was sent without storing all of it.
const PATCH_NOT_STORED: [Defect; 3] = [
    Defect::IsPrimaryNotStored,
    Defect::RegistrationEnabledNotStored,
    Defect::AdditionalDataNotStored,
];

/// The rules with what they consult: the state behind its lock, the applications and
/// profiles, the accepted credentials, the planted defects.
#[derive(Debug)]
pub struct Rules {
    state: RwLock<State>,
    tables: Tables,
    prerendered: Prerendered,
    /// `(scheme, token)` of every accepted credential, as sent after the scheme word.
    accepted: Vec<(&'static str, String)>,
    defects: Defects,
}

impl Rules {
    /// Rules over a freshly seeded state, as `config` says (applications, credentials, seed,
    /// registrations, defects; the listening and fault settings are the edge's and unused).
    pub fn new(config: &SimulatorConfig) -> Result<Rules, MockError> {
        config.check().map_err(MockError::Config)?;
        let tables = tables(config)?;
        let state = seed::seeded_state(
            Arc::clone(&tables.apps),
            Arc::clone(&tables.profiles),
            config.seed,
            config.seed_registrations,
        )?;
        Rules::over(state, tables, &config.credentials, config.defects)
    }

    /// Rules over `state`, with `defects` planted in it.
    fn over(
        mut state: State,
        tables: Tables,
        credentials: &[Credentials],
        defects: Defects,
    ) -> Result<Rules, MockError> {
        state.plant(defects);
        let accepted = credentials
            .iter()
            .map(|c| {
                let header = c.header_value();
                let token = header.expose().split_once(' ').map(|(_, t)| t.to_owned());
                (c.scheme(), token.unwrap_or_default())
            })
            .collect();
        let prerendered =
            Prerendered::new(&tables.apps, &tables.profiles).map_err(|e| MockError::Fixture {
                name: "get-response",
                message: e.to_string(),
            })?;
        Ok(Rules {
            state: RwLock::new(state),
            tables,
            prerendered,
            accepted,
            defects,
        })
    }

    /// What the simulator answers `request`: every check in the documented order, then the
    /// operation on the state. Writes are stored.
    pub fn answer(&self, request: &SimRequest<'_>) -> SimResponse {
        match self.admit(request) {
            Ok(app) => self.apply(app, request, || true),
            Err(refusal) => refusal.into(),
        }
    }

    /// Back to a freshly seeded state of `count` registrations from `seed`, in process (what the
    /// admin reset does over HTTP): a model reused from one sequence to the next.
    pub fn reseed(&self, seed: u64, count: usize) -> Result<(), MockError> {
        let tables = &self.tables;
        let state = seed::seeded_state(
            Arc::clone(&tables.apps),
            Arc::clone(&tables.profiles),
            seed,
            count,
        )?;
        self.reset(state);
        Ok(())
    }

    /// The body the simulator sends for `answer` (JSON, or empty), as over HTTP without faults.
    pub fn body(&self, answer: &SimResponse) -> Vec<u8> {
        self.renderer().encode(answer, true).1
    }

    /// The invariant check of the whole state: how many registrations, what is broken.
    pub fn invariants(&self) -> (usize, Vec<InvariantViolation>) {
        let state = self.read();
        (state.len(), state.invariants())
    }

    /// A page of registration IDs with their application codes, in creation order, and the
    /// total.
    pub fn registrations(&self, offset: usize, limit: usize) -> (usize, Vec<(String, String)>) {
        let (total, page) = self.page(offset, limit);
        let page = page
            .into_iter()
            .map(|(id, app)| (id.to_string(), self.tables.app_code(app).to_owned()))
            .collect();
        (total, page)
    }

    /// The head's checks: credentials (401), AppCode (48001, 48012), personalize flags (400).
    /// `Ok` is the application's index.
    pub(crate) fn admit(&self, request: &SimRequest<'_>) -> Result<u16, Refusal> {
        if !self.authorized(request.authorization) {
            return Err(Refusal::Unauthorized);
        }
        let app = self.application(request.app_code)?;
        if request.operation == Operation::Personalize
            && let Err(fields) = &request.flags
        {
            return Err(Refusal::BadRequest {
                text: "Invalid query parameter".into(),
                fields: fields.clone(),
            });
        }
        Ok(app)
    }

    /// Whether a body with this content type is read at all (one the rules would refuse is
    /// answered 400 without waiting for it).
    pub(crate) fn reads_body(&self, content_type: Option<&[u8]>) -> bool {
        validate::content_type_accepted(self.defects, content_type)
    }

    /// The body's checks, then the operation on the state, for an admitted request of `app`.
    /// `keep` is asked once, right before a write reaches the state: `false` runs it unkept.
    pub(crate) fn apply(
        &self,
        app: u16,
        request: &SimRequest<'_>,
        keep: impl FnOnce() -> bool,
    ) -> SimResponse {
        let op = request.operation;
        let id = request.registration_id;
        let answer = match op {
            Operation::Get => self.read().get(app, id).map(SimResponse::Registration),
            Operation::Patch => match validate::json_body(self.defects, request) {
                Ok(value) => self
                    .patch(app, id, decode::patch_input(&value), keep())
                    .map(SimResponse::Registration),
                Err(refusal) => return refusal.into(),
            },
            Operation::Personalize => return self.personalize(app, request, keep),
            Operation::Depersonalize => self
                .depersonalize(app, id, keep())
                .map(|()| SimResponse::Empty),
        };
        answer.unwrap_or_else(|e| validate::refusal(op, e).into())
    }

    /// Back to a freshly seeded state (the admin reset), built by the caller outside the lock.
    pub(crate) fn reset(&self, state: State) {
        let mut state = state;
        state.plant(self.defects);
        *self.write() = state;
    }

    pub(crate) fn tables(&self) -> &Tables {
        &self.tables
    }

    pub(crate) fn defects(&self) -> Defects {
        self.defects
    }

    /// A page of `(registration ID, application index)` and the total.
    pub(crate) fn page(&self, offset: usize, limit: usize) -> (usize, Vec<(Arc<str>, u16)>) {
        self.read().list(offset, limit)
    }

    pub(crate) fn renderer(&self) -> Renderer<'_> {
        Renderer {
            catalog: Catalog {
                apps: &self.tables.apps,
                profiles: &self.tables.profiles,
            },
            prerendered: &self.prerendered,
            errors: super::config::ErrorShapes::Documented,
        }
    }

    /// PATCH, with the planted defects that answer something other than what is stored.
    fn patch(
        &self,
        app: u16,
        id: &str,
        input: PatchInput,
        keep: bool,
    ) -> Result<RegistrationView, OpError> {
        let d = self.defects;
        let mut state = self.write();
        if !keep {
            return state.unkept(|s| s.patch(app, id, input));
        }
        if d.has(Defect::PatchAnswerStale) {
            let before = state.get(app, id)?;
            state.patch(app, id, input)?;
            return Ok(before);
        }
        if PATCH_NOT_STORED.iter().any(|&n| d.has(n)) {
            let answer = state.unkept(|s| s.patch(app, id, input.clone()))?;
            state.patch(app, id, withhold(d, input))?;
            return Ok(answer);
        }
        state.patch(app, id, input)
    }

    /// Personalize: the flags as the rules hear them, the body, then the state.
    fn personalize(
        &self,
        app: u16,
        request: &SimRequest<'_>,
        keep: impl FnOnce() -> bool,
    ) -> SimResponse {
        let op = Operation::Personalize;
        let flags = self.heard(request.flags.as_ref().copied().unwrap_or_default());
        let input = validate::json_body(self.defects, request)
            .and_then(|value| decode::personalize_input(self.defects, &value));
        let (identity, mut attributes) = match input {
            Ok(input) => input,
            Err(refusal) => return refusal.into(),
        };
        if self.defects.has(Defect::AttributesIgnored) {
            attributes = Default::default();
        }
        let id = request.registration_id;
        let keep = keep();
        let mut state = self.write();
        let answer = if keep {
            state.personalize(app, id, identity, attributes, flags)
        } else {
            state.unkept(|s| s.personalize(app, id, identity, attributes, flags))
        };
        match answer {
            Ok(view) => SimResponse::Person(Box::new(view)),
            Err(e) => validate::refusal(op, e).into(),
        }
    }

    /// Depersonalize (no effect at all under the `depersonalize.no_effect` defect).
    fn depersonalize(&self, app: u16, id: &str, keep: bool) -> Result<(), OpError> {
        let mut state = self.write();
        if self.defects.has(Defect::DepersonalizeNoEffect) {
            state.get(app, id).map(|_| ())
        } else if keep {
            state.depersonalize(app, id)
        } else {
            state.unkept(|s| s.depersonalize(app, id))
        }
    }

    /// The flags as the rules hear them: the planted defects that ignore a flag turn it off
    /// (or, for `personalize.force_false_ignored`, on).
    fn heard(&self, mut flags: PersonalizeFlags) -> PersonalizeFlags {
        let d = self.defects;
        if d.has(Defect::ForceTrueIgnored) {
            flags.force_depersonalize = false;
        }
        if d.has(Defect::ForceFalseIgnored) {
            flags.force_depersonalize = true;
        }
        flags.keep_as_lead &= !d.has(Defect::KeepAsLeadIgnored);
        flags.return_push &= !d.has(Defect::ReturnPushIgnored);
        flags.set_device_as_primary &= !d.has(Defect::SetPrimaryIgnored);
        flags
    }

    /// Any configured credential, any scheme; the scheme word is case-insensitive.
    fn authorized(&self, authorization: Option<&[u8]>) -> bool {
        let defects = self.defects;
        if defects.has(Defect::AuthNotChecked) {
            return true;
        }
        // Planted defects that refuse one scheme, by the scheme word of `Credentials::scheme`.
        let refused = |scheme: &str| {
            let defect = match scheme {
                "Basic" => Defect::AuthBasicRefused,
                "App" => Defect::AuthAppRefused,
                "IBSSO" => Defect::AuthIbssoRefused,
                "Bearer" => Defect::AuthBearerRefused,
                _ => return false,
            };
            defects.has(defect)
        };
        self.accepts(authorization, refused)
    }

    /// The admin routes' check: any configured credential, any scheme, never bent by a planted
    /// defect (the admin routes are the harness's, not the API's).
    pub fn admits(&self, authorization: Option<&[u8]>) -> bool {
        self.accepts(authorization, |_| false)
    }

    /// `Scheme token` is one of the configured credentials, and `refused` does not refuse its
    /// scheme.
    fn accepts(&self, authorization: Option<&[u8]>, refused: impl Fn(&str) -> bool) -> bool {
        let Some((scheme, token)) = authorization
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.split_once(' '))
        else {
            return false;
        };
        self.accepted
            .iter()
            .any(|(s, t)| s.eq_ignore_ascii_case(scheme) && t == token && !refused(s))
    }

    /// The application named by `AppCode`: 48001 when missing, 48012 when unknown.
    fn application(&self, code: Option<&[u8]>) -> Result<u16, Refusal> {
        if self.defects.has(Defect::AppCodeNotChecked) {
            return Ok(code.and_then(|c| self.tables.app_index(c)).unwrap_or(0));
        }
        let code = code.ok_or(Refusal::AppCodeMissing)?;
        self.tables
            .app_index(code)
            .ok_or(Refusal::ApplicationNotFound)
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The PATCH input without the fields a planted "not stored" defect drops.
fn withhold(defects: Defects, mut input: PatchInput) -> PatchInput {
    if defects.has(Defect::IsPrimaryNotStored) {
        input.is_primary = None;
    }
    if defects.has(Defect::RegistrationEnabledNotStored) {
        input.registration_enabled = None;
    }
    if defects.has(Defect::AdditionalDataNotStored) {
        input.additional = None;
        input.removed.clear();
    }
    input
}

/// The applications of `config` and the seed's system-data profiles.
pub(crate) fn tables(config: &SimulatorConfig) -> Result<Tables, MockError> {
    let apps: Arc<[AppEntry]> = config
        .applications
        .iter()
        .map(|a| AppEntry {
            app_code: a.app_code.clone(),
            application_id: Arc::from(a.application_id.as_str()),
        })
        .collect();
    Ok(Tables {
        apps,
        profiles: seed::profiles(config.seed)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::config::{DOC_APP_CODE, LOCAL_API_KEY};

    #[test]
    fn reseeding_puts_the_seeded_state_back() {
        let config = SimulatorConfig {
            seed_registrations: 2,
            ..SimulatorConfig::default()
        };
        let rules = Rules::new(&config).unwrap();
        let id = rules.registrations(0, 1).1[0].0.clone();
        let auth = format!("App {LOCAL_API_KEY}");
        let get = SimRequest::new(Operation::Get, &id)
            .authorization(&auth)
            .app_code(DOC_APP_CODE);
        let seeded = rules.body(&rules.answer(&get));
        let patch = SimRequest::new(Operation::Patch, &id)
            .authorization(&auth)
            .app_code(DOC_APP_CODE)
            .json(br#"{"isPrimary":true,"additionalData":{"x":1}}"#);
        assert_eq!(rules.answer(&patch).status(), 200);
        assert_ne!(rules.body(&rules.answer(&get)), seeded);
        rules.reseed(config.seed, 2).unwrap();
        assert_eq!(rules.body(&rules.answer(&get)), seeded);
        assert_eq!(rules.registrations(0, 10).0, 2);
    }

    #[test]
    fn the_rules_answer_in_process_without_http() {
        let config = SimulatorConfig {
            seed_registrations: 3,
            ..SimulatorConfig::default()
        };
        let rules = Rules::new(&config).unwrap();
        let (_, page) = rules.registrations(0, 1);
        let id = page[0].0.as_str();
        let auth = format!("App {LOCAL_API_KEY}");
        let patch = SimRequest::new(Operation::Patch, id)
            .authorization(&auth)
            .app_code(DOC_APP_CODE)
            .json(br#"{"additionalData":{"tier":"gold"}}"#);
        assert_eq!(rules.answer(&patch).status(), 200);
        let get = SimRequest::new(Operation::Get, id)
            .authorization(&auth)
            .app_code(DOC_APP_CODE);
        let answer = rules.answer(&get);
        let body: serde_json::Value = serde_json::from_slice(&rules.body(&answer)).unwrap();
        assert_eq!(body["additionalData"]["tier"], "gold");
        let answer = rules.answer(&SimRequest {
            app_code: None,
            ..get
        });
        assert!(matches!(
            answer,
            SimResponse::Refused(Refusal::AppCodeMissing)
        ));
        assert_eq!(answer.status(), 400);
        assert!(rules.invariants().1.is_empty());
    }
}
