//! Cases on who may call: `Authorization` (401, each scheme) and the `AppCode` header
//! (48001, 48012).

use super::{BoxFuture, CaseSpec, answers_error};
use crate::api::auth::{Credentials, Secret};
use crate::api::client::{AppCode, Auth, Call};
use crate::api::{Operation, error_code, message_id};
use crate::contract::ctx::Ctx;
use crate::contract::expect::ErrorExpect;

pub(super) const CASES: &[CaseSpec] = &[
    CaseSpec::read(
        "auth.missing",
        "auth",
        "no Authorization header: 401, legacy body UNAUTHORIZED",
        auth_missing,
    ),
    CaseSpec::read(
        "auth.wrong_key",
        "auth",
        "an API key the target does not know: 401, legacy body UNAUTHORIZED",
        auth_wrong_key,
    ),
    scheme(
        "auth.scheme.basic",
        "Basic",
        "Basic credentials are accepted",
    ),
    scheme("auth.scheme.app", "App", "an App API key is accepted"),
    scheme(
        "auth.scheme.ibsso",
        "IBSSO",
        "an IBSSO session token is accepted",
    ),
    scheme(
        "auth.scheme.bearer",
        "Bearer",
        "a Bearer OAuth2 token is accepted",
    ),
    CaseSpec::read(
        "appcode.missing",
        "appcode",
        "no AppCode header: 400, errorCode 48001",
        appcode_missing,
    ),
    CaseSpec::read(
        "appcode.unknown",
        "appcode",
        "an AppCode no application has: 400, errorCode 48012",
        appcode_unknown,
    ),
];

const fn scheme(name: &'static str, scheme: &'static str, summary: &'static str) -> CaseSpec {
    CaseSpec {
        needs_scheme: Some(scheme),
        ..CaseSpec::read(name, "auth", summary, auth_scheme)
    }
}

/// The 401 of missing or wrong credentials, in the legacy shape.
const UNAUTHORIZED: ErrorExpect = ErrorExpect::Legacy(message_id::UNAUTHORIZED);

/// GET without credentials must be refused with 401 in the legacy shape.
fn auth_missing(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let call = Call::new(Operation::Get, ctx.reg(0)).auth(Auth::Omitted);
        answers_error(ctx, call, 401, UNAUTHORIZED).await
    })
}

/// GET with a key the target cannot know must be refused with 401.
fn auth_wrong_key(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let wrong = Credentials::ApiKey(Secret::new(format!(
            "pushcheck-wrong-key-{}",
            ctx.env().run_tag
        )));
        let call = Call::new(Operation::Get, ctx.reg(0)).auth(Auth::With(wrong));
        answers_error(ctx, call, 401, UNAUTHORIZED).await
    })
}

/// GET with each credential of the case's scheme must succeed. The runner only starts this case
/// when a credential of the scheme is known; the case name says which scheme.
fn auth_scheme(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let credentials = ctx.scheme_credentials();
        for credential in credentials {
            let call = Call::new(Operation::Get, ctx.reg(0)).auth(Auth::With(credential));
            ctx.ok(call).await?;
        }
        Ok(())
    })
}

/// GET without AppCode: 400 with the push error 48001.
fn appcode_missing(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let call = Call::new(Operation::Get, ctx.reg(0)).app_code(AppCode::Omitted);
        let expect = ErrorExpect::Push(error_code::APP_CODE_MISSING);
        answers_error(ctx, call, 400, expect).await
    })
}

/// GET with an unknown AppCode: 400 with the push error 48012.
fn appcode_unknown(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let code = format!("pushcheck-unknown-app-{}", ctx.env().run_tag);
        let call = Call::new(Operation::Get, ctx.reg(0)).app_code(AppCode::With(code));
        let expect = ErrorExpect::Push(error_code::APPLICATION_NOT_FOUND);
        answers_error(ctx, call, 400, expect).await
    })
}
