//! Cases on `POST …/{pushRegId}/personalize`: identity matching, the four query flags, the
//! conflicts, and the person in the response (plural `phones` / `emails`).

use serde_json::{Value, json};

use super::{BoxFuture, CaseSpec, answers_error, personalize, personalize_phone};
use crate::api::client::Call;
use crate::api::footprint::name;
use crate::api::personalize_flag::{
    FORCE_DEPERSONALIZE, KEEP_AS_LEAD, RETURN_PUSH, SET_DEVICE_AS_PRIMARY,
};
use crate::api::{Operation, docs, field, message_id};
use crate::contract::ctx::Ctx;
use crate::contract::expect::{ErrorExpect, check_value};
use crate::contract::result::Failure;
use crate::schema::judge;
use crate::schema::lint::parse_example;

const CONFLICT_STATUS: &str = "personalize.conflict_status_400";

pub(super) const CASES: &[CaseSpec] = &[
    CaseSpec::write(
        "personalize.new_person",
        "personalize",
        "a phone number nobody has: 200, a person whose phones list it",
        1,
        new_person,
    ),
    CaseSpec::write(
        "personalize.doc_example",
        "personalize",
        "the doc's own request (phone 79810000000, tags, forceDepersonalize): 200 with the tags",
        1,
        doc_example,
    )
    .simulator_only(
        "uses the doc's fixed phone number, which belongs to somebody on a live account",
    ),
    CaseSpec::write(
        "personalize.attributes",
        "personalize",
        "every person attribute given is in the response",
        1,
        attributes,
    ),
    CaseSpec::write(
        "personalize.external_id_null_string",
        "personalize",
        "externalId \"NULL\" is taken as JSON null, not stored as a string",
        1,
        external_id_null_string,
    ),
    CaseSpec::write(
        "personalize.same_phone_two_devices",
        "personalize",
        "two devices personalized with the same phone end up under one person",
        2,
        same_phone_two_devices,
    ),
    CaseSpec::write(
        "personalize.return_push",
        "personalize",
        "returnPush=true lists the device under contactInformation.push",
        1,
        return_push,
    ),
    CaseSpec::write(
        "personalize.conflict_without_force",
        "personalize",
        "a device of another person, without forceDepersonalize: PERSONALIZATION_IMPOSSIBLE",
        1,
        conflict_without_force,
    )
    .relies_on(&[
        CONFLICT_STATUS,
        "personalize.new_identity_is_another_person",
    ]),
    CaseSpec::write(
        "personalize.force_depersonalize",
        "personalize",
        "forceDepersonalize=true moves a device to the new person",
        1,
        force_depersonalize,
    ),
    CaseSpec::write(
        "personalize.ambiguous",
        "personalize",
        "an identity matching two people: AMBIGUOUS_PERSONALIZE_CANDIDATES",
        3,
        ambiguous,
    )
    .relies_on(&[CONFLICT_STATUS]),
    CaseSpec::write(
        "personalize.set_device_as_primary_leaves_other_persons",
        "personalize",
        "setDeviceAsPrimary=true on person 2's device leaves person 1's primary device primary (live-safe)",
        2,
        primary_leaves_other_persons,
    ),
    CaseSpec::write(
        "personalize.set_device_as_primary",
        "personalize",
        "setDeviceAsPrimary=true makes the device primary and clears the previous primary",
        2,
        set_device_as_primary,
    ),
    CaseSpec::write(
        "personalize.keep_as_lead",
        "personalize",
        "keepAsLead=true keeps a LEAD a LEAD; without it the person is promoted to CUSTOMER",
        2,
        keep_as_lead,
    )
    .relies_on(&["personalize.type_lead_promoted"]),
    CaseSpec::write(
        "personalize.keep_as_lead_keeps_a_lead",
        "personalize",
        "a person the target answered as LEAD stays LEAD when personalized again with keepAsLead=true (live-safe; skipped where a new person is never answered as LEAD)",
        1,
        keep_as_lead_keeps_a_lead,
    ),
    CaseSpec::write(
        "personalize.missing_identity",
        "personalize",
        "a body without identity: 400 with a documented error body",
        1,
        missing_identity,
    ),
    CaseSpec::read(
        "personalize.unknown_id",
        "personalize",
        "personalize of an unknown ID: 400, errorCode 48013",
        unknown_id,
    ),
    CaseSpec::write(
        "personalize.other_person_refused_without_force",
        "personalize",
        "a device of person A, personalized as existing person B with forceDepersonalize=false: refused, and the device still belongs to A (live-safe)",
        2,
        other_person_refused_without_force,
    ),
];

/// The person's `contactInformation.<list>` must have an element whose `key` is `wanted`.
fn expect_listed(
    what: &str,
    person: &Value,
    (list, key): (&str, &str),
    wanted: &str,
) -> Result<(), Failure> {
    if judge::listed(person, list, key, wanted) {
        return Ok(());
    }
    let pointer = field::pointer(&[field::CONTACT_INFORMATION, list]);
    Err(Failure {
        message: format!("{what}: {wanted} is not listed at {pointer}"),
        expected: Some(format!("an element with {key} = {wanted:?}")),
        got: Some(
            person
                .pointer(&pointer)
                .map_or_else(|| "nothing (missing)".to_owned(), ToString::to_string),
        ),
        pointer: Some(pointer),
        ..Failure::default()
    })
}

/// `contactInformation.phones[].number`.
const PHONES: (&str, &str) = (field::PHONES, field::NUMBER);
/// `contactInformation.emails[].address`.
const EMAILS: (&str, &str) = (field::EMAILS, field::ADDRESS);
/// `contactInformation.push[].registrationId` (with `returnPush`).
const DEVICES: (&str, &str) = (field::PUSH, field::REGISTRATION_ID);

/// `value` must be at the person's top-level field `name`.
fn expect_field(what: &str, person: &Value, name: &str, value: &Value) -> Result<(), Failure> {
    check_value(what, person, &field::pointer(&[name]), value)
}

fn new_person(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let phone = ctx.phone();
        let person = ctx.ok(personalize_phone(ctx.reg(0), &phone)).await?;
        expect_listed("the new person", &person, PHONES, &phone)
    })
}

fn doc_example(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let body = docs::example("personalize-request")
            .map(parse_example)
            .unwrap_or(Value::Null);
        let read = |path: &[&str]| body.pointer(&field::pointer(path)).cloned();
        let phone = read(&[field::IDENTITY, field::PHONE_NUMBER])
            .and_then(|p| p.as_str().map(str::to_owned))
            .unwrap_or_default();
        let tags = read(&[field::ATTRIBUTES, field::TAGS]).unwrap_or(Value::Null);
        let call = Call::new(Operation::Personalize, ctx.reg(0))
            .json(body)
            .flag(FORCE_DEPERSONALIZE, true);
        let person = ctx.ok(call).await?;
        expect_listed("the doc's person", &person, PHONES, &phone)?;
        expect_field("the doc's person", &person, field::TAGS, &tags)
    })
}

fn attributes(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let (external_id, email) = (ctx.external_id(), ctx.email());
        let attributes = json!({
            field::FIRST_NAME: "Ada", field::LAST_NAME: "Lovelace", field::MIDDLE_NAME: "King",
            field::BIRTHDAY: "1985-07-12", field::GENDER: "FEMALE",
            field::TAGS: ["pushcheck", "contract"],
            field::CUSTOM_ATTRIBUTES: {(name::TIER): "gold"}
        });
        let identity = json!({ field::EXTERNAL_ID: external_id, field::EMAIL: email });
        let body = json!({ field::IDENTITY: identity, field::ATTRIBUTES: attributes });
        let person = ctx
            .ok(Call::new(Operation::Personalize, ctx.reg(0)).json(body))
            .await?;
        let what = "the person";
        expect_field(what, &person, field::EXTERNAL_ID, &json!(external_id))?;
        for name in [
            field::FIRST_NAME,
            field::LAST_NAME,
            field::MIDDLE_NAME,
            field::BIRTHDAY,
            field::GENDER,
            field::TAGS,
        ] {
            expect_field(what, &person, name, &attributes[name])?;
        }
        let tier = field::pointer(&[field::CUSTOM_ATTRIBUTES, name::TIER]);
        check_value(what, &person, &tier, &json!("gold"))?;
        expect_listed(what, &person, EMAILS, &email)
    })
}

fn external_id_null_string(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let phone = ctx.phone();
        let identity = json!({ field::EXTERNAL_ID: "NULL", field::PHONE_NUMBER: phone });
        let person = ctx.ok(personalize(ctx.reg(0), identity)).await?;
        match person.get(field::EXTERNAL_ID) {
            None | Some(Value::Null) => Ok(()),
            Some(other) => Err(Failure {
                message: "externalId \"NULL\" must mean null, but the person has an externalId"
                    .into(),
                pointer: Some(field::pointer(&[field::EXTERNAL_ID])),
                expected: Some("absent or null".into()),
                got: Some(other.to_string()),
                ..Failure::default()
            }),
        }
    })
}

fn same_phone_two_devices(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let phone = ctx.phone();
        ctx.ok(personalize_phone(ctx.reg(0), &phone)).await?;
        let call = personalize_phone(ctx.reg(1), &phone).flag(RETURN_PUSH, true);
        let person = ctx.ok(call).await?;
        for i in 0..2 {
            expect_listed("the shared person", &person, DEVICES, &ctx.reg(i))?;
        }
        Ok(())
    })
}

fn return_push(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let phone = ctx.phone();
        let call = personalize_phone(ctx.reg(0), &phone).flag(RETURN_PUSH, true);
        let person = ctx.ok(call).await?;
        expect_listed("the person", &person, DEVICES, &ctx.reg(0))
    })
}

/// `call` must be refused with HTTP 400 and the legacy body's `message_id`.
async fn refused_with(ctx: &mut Ctx, call: Call, message_id: &'static str) -> Result<(), Failure> {
    answers_error(ctx, call, 400, ErrorExpect::Legacy(message_id)).await
}

fn conflict_without_force(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let (first, second) = (ctx.phone(), ctx.phone());
        ctx.ok(personalize_phone(ctx.reg(0), &first)).await?;
        let call = personalize_phone(ctx.reg(0), &second);
        refused_with(ctx, call, message_id::PERSONALIZATION_IMPOSSIBLE).await
    })
}

fn force_depersonalize(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let (first, second) = (ctx.phone(), ctx.phone());
        ctx.ok(personalize_phone(ctx.reg(0), &first)).await?;
        let call = personalize_phone(ctx.reg(0), &second).flag(FORCE_DEPERSONALIZE, true);
        let person = ctx.ok(call).await?;
        expect_listed("the new person", &person, PHONES, &second)?;
        if judge::listed(&person, field::PHONES, field::NUMBER, &first) {
            let phones = field::pointer(&[field::CONTACT_INFORMATION, field::PHONES]);
            return Err(Failure {
                message: "after forceDepersonalize the device's new person still has the old phone"
                    .into(),
                expected: Some(format!("no {first}")),
                got: person.pointer(&phones).map(ToString::to_string),
                pointer: Some(phones),
                ..Failure::default()
            });
        }
        Ok(())
    })
}

fn ambiguous(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let (phone, email) = (ctx.phone(), ctx.email());
        ctx.ok(personalize_phone(ctx.reg(0), &phone)).await?;
        ctx.ok(personalize(ctx.reg(1), json!({ field::EMAIL: email })))
            .await?;
        let both = json!({ field::PHONE_NUMBER: phone, field::EMAIL: email });
        let call = personalize(ctx.reg(2), both);
        refused_with(ctx, call, message_id::AMBIGUOUS_PERSONALIZE_CANDIDATES).await
    })
}

/// GET of registration `i` must read back `isPrimary` = `expected`; `what` names the read.
async fn expect_primary(
    ctx: &mut Ctx,
    i: usize,
    what: &str,
    expected: bool,
) -> Result<(), Failure> {
    let body = ctx.ok(Call::new(Operation::Get, ctx.reg(i))).await?;
    let now = body
        .get(field::IS_PRIMARY)
        .cloned()
        .unwrap_or(Value::Bool(false));
    // Checked on a body of its own, so a registration without the field reads as `false`.
    let read = json!({ field::IS_PRIMARY: now });
    check_value(
        what,
        &read,
        &field::pointer(&[field::IS_PRIMARY]),
        &json!(expected),
    )
}

fn set_device_as_primary(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let phone = ctx.phone();
        for i in 0..2 {
            let call = personalize_phone(ctx.reg(i), &phone).flag(SET_DEVICE_AS_PRIMARY, true);
            ctx.ok(call).await?;
            let what = format!("GET of device {i} after setDeviceAsPrimary");
            expect_primary(ctx, i, &what, true).await?;
        }
        expect_primary(ctx, 0, "GET of the previous primary device", false).await
    })
}

fn keep_as_lead(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let phone = ctx.phone();
        let call = personalize_phone(ctx.reg(0), &phone).flag(KEEP_AS_LEAD, true);
        let lead = ctx.ok(call).await?;
        let what = "the person personalized with keepAsLead";
        expect_field(what, &lead, field::TYPE, &json!("LEAD"))?;
        let promoted = ctx.ok(personalize_phone(ctx.reg(1), &phone)).await?;
        let what = "the same person personalized without keepAsLead";
        expect_field(what, &promoted, field::TYPE, &json!("CUSTOMER"))
    })
}

fn missing_identity(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let body = json!({ field::ATTRIBUTES: { field::FIRST_NAME: "Nobody" } });
        let call = Call::new(Operation::Personalize, ctx.reg(0)).json(body);
        ctx.error(call, 400, ErrorExpect::AnyShape).await.map(drop)
    })
}

fn unknown_id(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let phone = ctx.phone();
        ctx.not_found(personalize_phone(ctx.unknown_id(), &phone))
            .await
    })
}

/// Live-safe version of the conflict rule [doc]: "without forceDepersonalize, personalizing a
/// device already bound to a *different* person is an error". B is made an existing person on a
/// second device, so "different person" does not depend on how a target treats an identity that
/// matches nobody. Asserted: the refusal is a 4xx with a documented error body (the docs name no
/// status or messageId), and the device still belongs to A — personalizing it as A again without
/// force succeeds and answers A. The runner depersonalizes both devices afterwards.
fn other_person_refused_without_force(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let (device, other) = (ctx.reg(0), ctx.reg(1));
        let (phone_a, phone_b) = (ctx.phone(), ctx.phone());
        ctx.ok(personalize_phone(other, &phone_b)).await?;
        ctx.ok(personalize_phone(device.clone(), &phone_a)).await?;
        let to_b = personalize_phone(device.clone(), &phone_b).flag(FORCE_DEPERSONALIZE, false);
        ctx.refused(to_b).await.map_err(|f| Failure {
            message: format!(
                "personalizing a device of another person without forceDepersonalize must be refused: {}",
                f.message
            ),
            ..f
        })?;
        let again = personalize_phone(device, &phone_a);
        let person = ctx.ok(again).await.map_err(|f| Failure {
            message: format!(
                "after the refusal the device must still belong to A, so personalizing it as A again must succeed: {}",
                f.message
            ),
            ..f
        })?;
        let what = "the device's person after the refused move";
        expect_listed(what, &person, PHONES, &phone_a)
    })
}

/// Live-safe [spec]: `setDeviceAsPrimary=true` makes a device its person's primary device; one
/// device belongs to one person [doc], so it changes nothing of another person's devices. Two
/// fresh persons of the run: device A is made person 1's primary, then device B person 2's;
/// A must still read back primary. Relies on no choice: both devices are personalized before
/// their primary flag is read. The runner depersonalizes both and puts `isPrimary` back.
fn primary_leaves_other_persons(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let (first, second) = (ctx.phone(), ctx.phone());
        let call = personalize_phone(ctx.reg(0), &first).flag(SET_DEVICE_AS_PRIMARY, true);
        ctx.ok(call).await?;
        let what = "GET of person 1's device after setDeviceAsPrimary";
        expect_primary(ctx, 0, what, true).await?;
        let call = personalize_phone(ctx.reg(1), &second).flag(SET_DEVICE_AS_PRIMARY, true);
        ctx.ok(call).await?;
        let what = "GET of person 2's device after setDeviceAsPrimary";
        expect_primary(ctx, 1, what, true).await?;
        let what =
            "GET of person 1's primary device after another person's device was made primary";
        expect_primary(ctx, 0, what, true).await
    })
}

/// Live-safe [spec]: `keepAsLead=true` means "do not promote the person from LEAD to
/// CUSTOMER", whatever type a new person starts with (the docs leave that open: the simulator's
/// choice `personalize.type_lead_promoted`, which this case does not rely on). A fresh identity
/// is personalized with `keepAsLead=true`; only if the target answers that person as LEAD is the
/// rule checkable: the same identity personalized again with `keepAsLead=true` must still be a
/// LEAD (a CUSTOMER means keepAsLead was ignored for a person that exists). A target that never
/// answers a new person as LEAD is skipped, saying so: through this API a target whose new
/// persons start as CUSTOMER and one that ignores keepAsLead at once answer alike (the
/// generator excuses a promotion for the same reason unless the target showed the LEAD first).
fn keep_as_lead_keeps_a_lead(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let phone = ctx.phone();
        let call = personalize_phone(ctx.reg(0), &phone).flag(KEEP_AS_LEAD, true);
        let first = ctx.ok(call).await?;
        let started = first.get(field::TYPE).and_then(Value::as_str);
        if started != Some("LEAD") {
            let got = started.map_or_else(|| "no type".to_owned(), |t| format!("type {t}"));
            return ctx.skip(format!(
                "the target answered a new person personalized with keepAsLead=true with {got}, not LEAD: a target whose new persons start as CUSTOMER (the docs leave that open) and one that ignores keepAsLead answer alike, so keepAsLead cannot be checked here"
            ));
        }
        let call = personalize_phone(ctx.reg(0), &phone).flag(KEEP_AS_LEAD, true);
        let again = ctx.ok(call).await?;
        let what = "a person answered as LEAD, personalized again with keepAsLead=true";
        expect_field(what, &again, field::TYPE, &json!("LEAD"))
    })
}
