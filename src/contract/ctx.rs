//! The context a contract case runs in: the client, the registrations allocated to it, unique
//! identities, and every exchange it made. What a case expects of a response (`ctx.ok(call)`,
//! `ctx.error(call, 400, …)`) is in [`super::expect`]. A case knows its context; the context
//! knows only the case's name and the credential scheme it needs, not the catalogue.

use std::collections::BTreeMap;
use std::time::Instant;

use super::result::{Exchange, Failure, Finding};
use crate::api::client::{Call, Client, Response};
use crate::api::{Operation, auth::Credentials};
use crate::schema::Mode;
use crate::schema::shape::Skeleton;

/// What a case may assume about where it runs.
#[derive(Debug, Clone)]
pub struct Environment {
    /// The embedded simulator (true) or a live account.
    pub simulator: bool,
    /// Every credential the target accepts that pushcheck knows (for the per-scheme cases).
    pub credentials: Vec<Credentials>,
    /// The configured application code.
    pub app_code: Option<String>,
    /// The `applicationId` every registration answered must carry (given, the simulator's, or
    /// learned from the run's first read); `None`: not known, not judged.
    pub application_id: Option<String>,
    /// A registration of another application, if the target has one.
    pub other_app_registration: Option<String>,
    /// A number unique to this run, used to make identities no earlier run used.
    pub run_tag: u64,
}

/// A case's context. Created by the runner for each case.
#[derive(Debug)]
pub struct Ctx {
    client: Client,
    pub(super) mode: Mode,
    registrations: Vec<String>,
    env: Environment,
    /// The case's name, part of every identity it makes.
    case: &'static str,
    /// The credential scheme the case needs, if it needs one.
    needs_scheme: Option<&'static str>,
    counter: u32,
    pub(crate) exchanges: Vec<Exchange>,
    pub(crate) findings: Vec<Finding>,
    /// Skeletons of 200 responses by schema, for the run's drift report.
    pub(crate) observed: BTreeMap<&'static str, Skeleton>,
    /// Registrations this case personalized (to depersonalize when restoring a live target).
    pub(crate) personalized: Vec<String>,
    /// A personalize sent whose answer has not come back: when Ctrl-C drops the case there, the
    /// restore treats it as having succeeded.
    pub(crate) personalize_in_flight: Option<String>,
    /// Why the case could not check its rule on this target, found while it ran (the target's
    /// own answers left the rule's precondition unmet): the case is reported skipped.
    pub(crate) skipped: Option<String>,
}

impl Ctx {
    /// Registrations to depersonalize when restoring: those personalized, and one whose
    /// personalize was interrupted before its answer came.
    pub(crate) fn to_depersonalize(&self) -> Vec<String> {
        let mut out = self.personalized.clone();
        out.extend(self.personalize_in_flight.iter().cloned());
        out
    }

    pub(crate) fn new(
        client: Client,
        mode: Mode,
        registrations: Vec<String>,
        env: Environment,
        (case, needs_scheme): (&'static str, Option<&'static str>),
    ) -> Ctx {
        Ctx {
            client,
            mode,
            registrations,
            env,
            case,
            needs_scheme,
            counter: 0,
            exchanges: Vec::new(),
            findings: Vec::new(),
            observed: BTreeMap::new(),
            personalized: Vec::new(),
            personalize_in_flight: None,
            skipped: None,
        }
    }

    /// Ends the case as skipped, for `reason`: what the target answered left the rule the case
    /// checks without a precondition (say, it never showed a person as LEAD). Only for a
    /// precondition the docs leave open; anything the docs promise is a failure.
    pub fn skip(&mut self, reason: impl Into<String>) -> Result<(), Failure> {
        self.skipped = Some(reason.into());
        Ok(())
    }

    pub fn env(&self) -> &Environment {
        &self.env
    }

    /// The credentials of the scheme the case needs (all known ones if it needs none).
    pub fn scheme_credentials(&self) -> Vec<Credentials> {
        self.env
            .credentials
            .iter()
            .filter(|c| self.needs_scheme.is_none_or(|s| s == c.scheme()))
            .cloned()
            .collect()
    }

    /// The `i`-th registration allocated to this case.
    pub fn reg(&self, i: usize) -> String {
        self.registrations.get(i).cloned().unwrap_or_default()
    }

    fn next(&mut self) -> u32 {
        self.counter += 1;
        self.counter
    }

    /// A phone number (digits only) no earlier run has used.
    pub fn phone(&mut self) -> String {
        let n = self.next();
        format!(
            "99{:010}{:02}{n:03}",
            self.env.run_tag % 10_000_000_000,
            self.case.len() % 100
        )
    }

    /// An email address no earlier run has used.
    pub fn email(&mut self) -> String {
        let n = self.next();
        format!(
            "pushcheck.{}.{}.{n}@example.com",
            self.env.run_tag, self.case
        )
    }

    /// An externalId no earlier run has used.
    pub fn external_id(&mut self) -> String {
        let n = self.next();
        format!("pushcheck-{}-{}-{n}", self.env.run_tag, self.case)
    }

    /// A registration ID no target has (unique to this run).
    pub fn unknown_id(&self) -> String {
        format!("pushcheck-unknown-{}", self.env.run_tag)
    }

    /// Sends a call, recording it. No response at all is a failure.
    pub async fn send(&mut self, call: Call) -> Result<Response, Failure> {
        let started = Instant::now();
        if call.operation == Operation::Personalize {
            self.personalize_in_flight = Some(call.registration_id.clone());
        }
        let outcome = self.client.send(&call).await;
        self.personalize_in_flight = None;
        if call.operation == Operation::Personalize
            && let Ok(response) = &outcome
            && response.status == 200
        {
            self.personalized.push(call.registration_id.clone());
        }
        self.exchanges.push(Exchange {
            request: call.describe(),
            status: outcome.as_ref().ok().map(|r| r.status),
            duration: outcome
                .as_ref()
                .map_or_else(|_| started.elapsed(), |r| r.elapsed),
        });
        outcome.map_err(|e| Failure {
            message: format!("no response: {e}"),
            request: Some(call.describe()),
            unreachable: e.is_unreachable(),
            untrusted: e.untrusted().map(str::to_owned),
            ..Failure::default()
        })
    }
}
