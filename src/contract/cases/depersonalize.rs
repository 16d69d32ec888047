//! Cases on `POST …/{pushRegId}/depersonalize`: 200 with an empty body, and what it changes for
//! the next GET and the next personalize.

use super::{BoxFuture, CaseSpec, personalize_phone as personalize, reads_back};
use crate::api::Operation;
use crate::api::client::Call;
use crate::contract::ctx::Ctx;

pub(super) const CASES: &[CaseSpec] = &[
    CaseSpec::write(
        "depersonalize.then_get",
        "depersonalize",
        "depersonalize answers 200 with an empty body; the registration is still there",
        1,
        then_get,
    ),
    CaseSpec::write(
        "depersonalize.then_personalize",
        "depersonalize",
        "after depersonalize, another identity needs no forceDepersonalize",
        1,
        then_personalize,
    ),
    CaseSpec::write(
        "depersonalize.unpersonalized",
        "depersonalize",
        "depersonalizing a device of nobody: 200, empty body",
        1,
        unpersonalized,
    )
    .relies_on(&[
        "depersonalize.unpersonalized_ok",
        "seed.unpersonalized_devices",
    ]),
    CaseSpec::read(
        "depersonalize.unknown_id",
        "depersonalize",
        "depersonalize of an unknown ID: 400, errorCode 48013",
        unknown_id,
    ),
];

fn then_get(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let id = ctx.reg(0);
        let phone = ctx.phone();
        ctx.ok(personalize(id.clone(), &phone)).await?;
        ctx.ok_empty(Call::new(Operation::Depersonalize, id.clone()))
            .await?;
        reads_back(ctx, id, "the GET after depersonalize")
            .await
            .map(drop)
    })
}

fn then_personalize(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let id = ctx.reg(0);
        let (first, second) = (ctx.phone(), ctx.phone());
        ctx.ok(personalize(id.clone(), &first)).await?;
        ctx.ok_empty(Call::new(Operation::Depersonalize, id.clone()))
            .await?;
        ctx.ok(personalize(id, &second)).await.map(drop)
    })
}

fn unpersonalized(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        ctx.ok_empty(Call::new(Operation::Depersonalize, ctx.reg(0)))
            .await
    })
}

fn unknown_id(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        ctx.not_found(Call::new(Operation::Depersonalize, ctx.unknown_id()))
            .await
    })
}
