//! The catalog of contract cases: each has a stable name (`group.what`), says what it needs
//! (writes, registrations, a credential scheme, another application) and which simulator choices
//! it relies on, and is one documented `async fn` over a [`Ctx`].
//!
//! To add a case: write the function in its group's file, then add a [`CaseSpec`] to that group's
//! `CASES` list. Names are stable: CI reports and filters refer to them.

mod access;
mod depersonalize;
mod get;
mod invalid;
mod patch;
mod personalize;

use std::future::Future;
use std::pin::Pin;

use serde_json::{Value, json};

use super::ctx::Ctx;
use super::expect::{ErrorExpect, check_value};
use super::result::Failure;
use crate::api::Operation;
use crate::api::client::Call;
use crate::api::field;

/// A running case.
pub type BoxFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Failure>> + Send + 'a>>;

/// A case's body.
pub type CaseFn = for<'a> fn(&'a mut Ctx) -> BoxFuture<'a>;

/// One case of the suite.
#[derive(Debug, Clone, Copy)]
pub struct CaseSpec {
    /// Stable name, `group.what`.
    pub name: &'static str,
    pub group: &'static str,
    /// One line: what it checks.
    pub summary: &'static str,
    /// It changes state: against a live target it runs only with `--allow-writes`.
    pub writes: bool,
    /// How many distinct registrations it needs.
    pub registrations: usize,
    /// Ids of simulator choices (`pushcheck::mock::CHOICES`) it relies on; skipped live.
    pub relies_on: &'static [&'static str],
    /// Why it can only run against the simulator, if it can only.
    pub simulator_only: Option<&'static str>,
    /// A credential scheme it needs (`Basic`, `App`, `IBSSO`, `Bearer`).
    pub needs_scheme: Option<&'static str>,
    /// It needs a registration of a second application.
    pub needs_other_app: bool,
    pub run: CaseFn,
}

impl CaseSpec {
    /// A read-only case on one registration, relying on nothing undocumented.
    pub(crate) const fn read(
        name: &'static str,
        group: &'static str,
        summary: &'static str,
        run: CaseFn,
    ) -> CaseSpec {
        CaseSpec {
            name,
            group,
            summary,
            writes: false,
            registrations: 1,
            relies_on: &[],
            simulator_only: None,
            needs_scheme: None,
            needs_other_app: false,
            run,
        }
    }

    /// A case that writes, on `registrations` registrations.
    pub(crate) const fn write(
        name: &'static str,
        group: &'static str,
        summary: &'static str,
        registrations: usize,
        run: CaseFn,
    ) -> CaseSpec {
        CaseSpec {
            writes: true,
            registrations,
            ..CaseSpec::read(name, group, summary, run)
        }
    }

    pub(crate) const fn relies_on(mut self, choices: &'static [&'static str]) -> CaseSpec {
        self.relies_on = choices;
        self
    }

    pub(crate) const fn simulator_only(mut self, reason: &'static str) -> CaseSpec {
        self.simulator_only = Some(reason);
        self
    }
}

/// A personalize of registration `id` as the person with this phone number.
fn personalize_phone(id: String, phone: &str) -> Call {
    personalize(id, json!({ field::PHONE_NUMBER: phone }))
}

/// A personalize of registration `id` with `identity` (`externalId`, `phoneNumber`, `email`).
fn personalize(id: String, identity: Value) -> Call {
    Call::new(Operation::Personalize, id).json(json!({ field::IDENTITY: identity }))
}

/// `call` must answer `status` with the error `expect` names.
async fn answers_error(
    ctx: &mut Ctx,
    call: Call,
    status: u16,
    expect: ErrorExpect,
) -> Result<(), Failure> {
    ctx.error(call, status, expect).await.map(drop)
}

/// GET of registration `id` must answer that registration; `what` names the read in a failure.
async fn reads_back(ctx: &mut Ctx, id: String, what: &str) -> Result<Value, Failure> {
    let read = ctx.ok(Call::new(Operation::Get, id.clone())).await?;
    let pointer = field::pointer(&[field::REGISTRATION_ID]);
    check_value(what, &read, &pointer, &Value::from(id))?;
    Ok(read)
}

/// Every case, in run order.
pub fn all() -> Vec<&'static CaseSpec> {
    access::CASES
        .iter()
        .chain(get::CASES)
        .chain(patch::CASES)
        .chain(invalid::cases("patch"))
        .chain(personalize::CASES)
        .chain(invalid::cases("personalize"))
        .chain(depersonalize::CASES)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_grouped_and_choices_exist() {
        let cases = all();
        let mut names: Vec<&str> = cases.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), cases.len(), "case names are unique");
        for case in &cases {
            assert!(
                case.name.starts_with(&format!("{}.", case.group)),
                "{}",
                case.name
            );
            for id in case.relies_on {
                assert!(
                    crate::mock::choice(id).is_some(),
                    "{}: unknown choice {id}",
                    case.name
                );
            }
        }
    }
}
