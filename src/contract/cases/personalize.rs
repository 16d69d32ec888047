//! Cases on `POST …/{pushRegId}/personalize`: identity matching, the four query flags, the
//! conflicts, and the person in the response (plural `phones` / `emails`).

use serde_json::{Value, json};

use super::{BoxFuture, CaseSpec};
use crate::api::client::Call;
use crate::api::personalize_flag::{
    FORCE_DEPERSONALIZE, KEEP_AS_LEAD, RETURN_PUSH, SET_DEVICE_AS_PRIMARY,
};
use crate::api::{Operation, docs, message_id};
use crate::contract::ctx::Ctx;
use crate::contract::expect::{ErrorExpect, check_value};
use crate::contract::result::Failure;
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

fn personalize(id: String, identity: Value) -> Call {
    Call::new(Operation::Personalize, id).json(json!({ "identity": identity }))
}

/// The list at `pointer` (e.g. `/contactInformation/phones`) must contain an element whose
/// `field` is `wanted`.
fn expect_listed(
    what: &str,
    person: &Value,
    pointer: &str,
    field: &str,
    wanted: &str,
) -> Result<(), Failure> {
    let listed = person
        .pointer(pointer)
        .and_then(Value::as_array)
        .is_some_and(|items| {
            items
                .iter()
                .any(|i| i.get(field).and_then(Value::as_str) == Some(wanted))
        });
    if listed {
        return Ok(());
    }
    Err(Failure {
        message: format!("{what}: {wanted} is not listed at {pointer}"),
        pointer: Some(pointer.to_owned()),
        expected: Some(format!("an element with {field} = {wanted:?}")),
        got: Some(
            person
                .pointer(pointer)
                .map_or_else(|| "nothing (missing)".to_owned(), ToString::to_string),
        ),
        ..Failure::default()
    })
}

fn new_person(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let phone = ctx.phone();
        let person = ctx
            .ok(personalize(ctx.reg(0), json!({"phoneNumber": phone})))
            .await?;
        expect_listed(
            "the new person",
            &person,
            "/contactInformation/phones",
            "number",
            &phone,
        )
    })
}

fn doc_example(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let body = docs::example("personalize-request")
            .map(parse_example)
            .unwrap_or(Value::Null);
        let phone = body
            .pointer("/identity/phoneNumber")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let tags = body
            .pointer("/attributes/tags")
            .cloned()
            .unwrap_or(Value::Null);
        let call = Call::new(Operation::Personalize, ctx.reg(0))
            .json(body)
            .flag(FORCE_DEPERSONALIZE, true);
        let person = ctx.ok(call).await?;
        expect_listed(
            "the doc's person",
            &person,
            "/contactInformation/phones",
            "number",
            &phone,
        )?;
        check_value("the doc's person", &person, "/tags", &tags)
    })
}

fn attributes(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let (external_id, email) = (ctx.external_id(), ctx.email());
        let attributes = json!({
            "firstName": "Ada", "lastName": "Lovelace", "middleName": "King",
            "birthday": "1985-07-12", "gender": "FEMALE",
            "tags": ["pushcheck", "contract"],
            "customAttributes": {"pushcheck_tier": "gold"}
        });
        let body = json!({"identity": {"externalId": external_id, "email": email}, "attributes": attributes});
        let person = ctx
            .ok(Call::new(Operation::Personalize, ctx.reg(0)).json(body))
            .await?;
        check_value("the person", &person, "/externalId", &json!(external_id))?;
        for field in [
            "firstName",
            "lastName",
            "middleName",
            "birthday",
            "gender",
            "tags",
        ] {
            check_value(
                "the person",
                &person,
                &format!("/{field}"),
                &attributes[field],
            )?;
        }
        check_value(
            "the person",
            &person,
            "/customAttributes/pushcheck_tier",
            &json!("gold"),
        )?;
        expect_listed(
            "the person",
            &person,
            "/contactInformation/emails",
            "address",
            &email,
        )
    })
}

fn external_id_null_string(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let phone = ctx.phone();
        let person = ctx
            .ok(personalize(
                ctx.reg(0),
                json!({"externalId": "NULL", "phoneNumber": phone}),
            ))
            .await?;
        match person.get("externalId") {
            None | Some(Value::Null) => Ok(()),
            Some(other) => Err(Failure {
                message: "externalId \"NULL\" must mean null, but the person has an externalId"
                    .into(),
                pointer: Some("/externalId".into()),
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
        ctx.ok(personalize(ctx.reg(0), json!({"phoneNumber": phone})))
            .await?;
        let person = ctx
            .ok(personalize(ctx.reg(1), json!({"phoneNumber": phone})).flag(RETURN_PUSH, true))
            .await?;
        for i in 0..2 {
            expect_listed(
                "the shared person",
                &person,
                "/contactInformation/push",
                "registrationId",
                &ctx.reg(i),
            )?;
        }
        Ok(())
    })
}

fn return_push(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let phone = ctx.phone();
        let person = ctx
            .ok(personalize(ctx.reg(0), json!({"phoneNumber": phone})).flag(RETURN_PUSH, true))
            .await?;
        expect_listed(
            "the person",
            &person,
            "/contactInformation/push",
            "registrationId",
            &ctx.reg(0),
        )
    })
}

fn conflict_without_force(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let (first, second) = (ctx.phone(), ctx.phone());
        ctx.ok(personalize(ctx.reg(0), json!({"phoneNumber": first})))
            .await?;
        let call = personalize(ctx.reg(0), json!({"phoneNumber": second}));
        ctx.error(
            call,
            400,
            ErrorExpect::Legacy(message_id::PERSONALIZATION_IMPOSSIBLE),
        )
        .await
        .map(drop)
    })
}

fn force_depersonalize(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let (first, second) = (ctx.phone(), ctx.phone());
        ctx.ok(personalize(ctx.reg(0), json!({"phoneNumber": first})))
            .await?;
        let person = ctx
            .ok(personalize(ctx.reg(0), json!({"phoneNumber": second}))
                .flag(FORCE_DEPERSONALIZE, true))
            .await?;
        expect_listed(
            "the new person",
            &person,
            "/contactInformation/phones",
            "number",
            &second,
        )?;
        if expect_listed("", &person, "/contactInformation/phones", "number", &first).is_ok() {
            return Err(Failure {
                message: "after forceDepersonalize the device's new person still has the old phone"
                    .into(),
                pointer: Some("/contactInformation/phones".into()),
                expected: Some(format!("no {first}")),
                got: Some(person["contactInformation"]["phones"].to_string()),
                ..Failure::default()
            });
        }
        Ok(())
    })
}

fn ambiguous(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let (phone, email) = (ctx.phone(), ctx.email());
        ctx.ok(personalize(ctx.reg(0), json!({"phoneNumber": phone})))
            .await?;
        ctx.ok(personalize(ctx.reg(1), json!({"email": email})))
            .await?;
        let call = personalize(ctx.reg(2), json!({"phoneNumber": phone, "email": email}));
        ctx.error(
            call,
            400,
            ErrorExpect::Legacy(message_id::AMBIGUOUS_PERSONALIZE_CANDIDATES),
        )
        .await
        .map(drop)
    })
}

async fn is_primary(ctx: &mut Ctx, i: usize) -> Result<Value, Failure> {
    let body = ctx.ok(Call::new(Operation::Get, ctx.reg(i))).await?;
    Ok(body.get("isPrimary").cloned().unwrap_or(Value::Bool(false)))
}

fn set_device_as_primary(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let phone = ctx.phone();
        for i in 0..2 {
            let call = personalize(ctx.reg(i), json!({"phoneNumber": phone}))
                .flag(SET_DEVICE_AS_PRIMARY, true);
            ctx.ok(call).await?;
            let now = is_primary(ctx, i).await?;
            check_value(
                &format!("GET of device {i} after setDeviceAsPrimary"),
                &json!({"isPrimary": now}),
                "/isPrimary",
                &json!(true),
            )?;
        }
        let first = is_primary(ctx, 0).await?;
        check_value(
            "GET of the previous primary device",
            &json!({"isPrimary": first}),
            "/isPrimary",
            &json!(false),
        )
    })
}

fn keep_as_lead(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let phone = ctx.phone();
        let lead = ctx
            .ok(personalize(ctx.reg(0), json!({"phoneNumber": phone})).flag(KEEP_AS_LEAD, true))
            .await?;
        check_value(
            "the person personalized with keepAsLead",
            &lead,
            "/type",
            &json!("LEAD"),
        )?;
        let promoted = ctx
            .ok(personalize(ctx.reg(1), json!({"phoneNumber": phone})))
            .await?;
        check_value(
            "the same person personalized without keepAsLead",
            &promoted,
            "/type",
            &json!("CUSTOMER"),
        )
    })
}

fn missing_identity(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let call = Call::new(Operation::Personalize, ctx.reg(0))
            .json(json!({"attributes": {"firstName": "Nobody"}}));
        ctx.error(call, 400, ErrorExpect::AnyShape).await.map(drop)
    })
}

fn unknown_id(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let phone = ctx.phone();
        ctx.not_found(personalize(ctx.unknown_id(), json!({"phoneNumber": phone})))
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
        ctx.ok(personalize(other, json!({"phoneNumber": phone_b})))
            .await?;
        ctx.ok(personalize(device.clone(), json!({"phoneNumber": phone_a})))
            .await?;
        let to_b = personalize(device.clone(), json!({"phoneNumber": phone_b}))
            .flag(FORCE_DEPERSONALIZE, false);
        ctx.refused(to_b).await.map_err(|f| Failure {
            message: format!(
                "personalizing a device of another person without forceDepersonalize must be refused: {}",
                f.message
            ),
            ..f
        })?;
        let again = personalize(device, json!({"phoneNumber": phone_a}));
        let person = ctx.ok(again).await.map_err(|f| Failure {
            message: format!(
                "after the refusal the device must still belong to A, so personalizing it as A again must succeed: {}",
                f.message
            ),
            ..f
        })?;
        expect_listed(
            "the device's person after the refused move",
            &person,
            "/contactInformation/phones",
            "number",
            &phone_a,
        )
    })
}
