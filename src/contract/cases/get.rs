//! Cases on `GET /people/2/contactInformation/push/{pushRegId}`.

use super::{BoxFuture, CaseSpec, reads_back};
use crate::api::Operation;
use crate::api::client::Call;
use crate::contract::ctx::Ctx;

pub(super) const CASES: &[CaseSpec] = &[
    CaseSpec::read(
        "get.existing",
        "get",
        "an existing registration: 200, a valid registration with the ID asked for",
        get_existing,
    ),
    CaseSpec::read(
        "get.unknown_id",
        "get",
        "an ID no registration has: 400, errorCode 48013 (not 404)",
        get_unknown_id,
    ),
    CaseSpec {
        needs_other_app: true,
        ..CaseSpec::read(
            "get.other_application",
            "get",
            "a registration of another application: 400, errorCode 48013",
            get_other_application,
        )
    },
];

/// GET a registration that exists: 200, valid, and it is the one asked for.
fn get_existing(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let id = ctx.reg(0);
        reads_back(ctx, id, "the GET response").await.map(drop)
    })
}

/// GET an unknown ID: the push error 48013 with HTTP 400.
fn get_unknown_id(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        ctx.not_found(Call::new(Operation::Get, ctx.unknown_id()))
            .await
    })
}

/// GET a registration of another application with this AppCode: 48013.
fn get_other_application(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let id = ctx.env().other_app_registration.clone().unwrap_or_default();
        ctx.not_found(Call::new(Operation::Get, id)).await
    })
}
