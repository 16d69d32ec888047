//! The goose transactions, one documented `async fn` per operation, and the state they share.
//!
//! goose runs one transaction that sends the user's next operation of the mix
//! ([`mix_transaction`]; the order is [`super::mix`]'s, so any prefix of a user's requests is
//! close to the weights). Each operation picks a registration from the feed, sends one request
//! named by operation
//! (`GET registration`, never one row per ID) and has the response judged by
//! [`crate::schema::judge`]: status and Content-Type always, schema and meaning on a sampled share.
//! A contract break becomes a goose failure with a message. Writes remember the last
//! acknowledged write of the registration. Reads go anywhere in the feed; writes only to the
//! user's own partition (see [`crate::load::feed`]), so every registration has one writer.
//!
//! Sampling is stratified: each user keeps one running share per operation and always validates
//! its first response of each operation, so at any sample rate every operation is validated in
//! proportion to its traffic (a user's operations come in a regular order, so one shared share
//! could validate the same operations every time and never the others).
//!
//! Every request races the run's [`Cancel`]: on Ctrl-C the in-flight requests are dropped and
//! goose's users stop at once, instead of goose waiting for each to time out.
//!
//! Per-user tallies live in one padded slot per user, so users never contend for a lock or a
//! cache line; they are summed once when the run ends (and once a second for the progress line).
//! Nothing here prints.

use std::sync::Arc;

use goose::goose::{GooseRequest, GooseUser, TransactionError, goose_method_from_method};
use goose::prelude::TransactionResult;
use reqwest::header::CONTENT_TYPE;
use serde_json::Value;

use super::mix::Mixer;
use super::shared::Run;
use crate::api::footprint::LOAD_ATTRIBUTE;
use crate::api::{Operation, field};
use crate::schema::judge::Meaning;

/// Prefix of the `externalId` personalize uses; one person per registration, so that
/// `setDeviceAsPrimary` never touches another writer's device.
pub const EXTERNAL_ID_PREFIX: &str = "pushcheck-load-";

/// The goose request name of `op`: its label without the method, since goose prefixes the
/// method itself, so goose's row for `op` is exactly [`Operation::label`].
pub fn request_name(op: Operation) -> &'static str {
    let label = op.label();
    label
        .strip_prefix(op.method())
        .map_or(label, str::trim_start)
}

/// The goose request of `op` on feed entry `at`, named by operation, sent with `builder`.
fn goose_request<'a>(
    run: &'a Run,
    op: Operation,
    at: usize,
    builder: reqwest::RequestBuilder,
) -> Result<GooseRequest<'a>, Box<TransactionError>> {
    Ok(GooseRequest::builder()
        .method(goose_method_from_method(op.http_method())?)
        .path(run.feed.entries[at].request_path(op))
        .name(request_name(op))
        .set_request_builder(builder)
        .build())
}

/// GET registration: reads one registration anywhere in the feed; the answer must be that
/// registration.
pub async fn get_registration(user: &mut GooseUser, run: &Run) -> TransactionResult {
    let at = run.next_read(user);
    let builder = run.builder(user, Operation::Get, at)?;
    let request = goose_request(run, Operation::Get, at, builder)?;
    let Some(goose) = run.send(user, request).await? else {
        return Ok(());
    };
    let id = &run.feed.entries[at].registration_id;
    run.settle(
        user,
        Operation::Get,
        goose,
        run.expect(at, Meaning::Registration { id }),
    )
    .await?;
    Ok(())
}

/// The value a PATCH of run `run_id` writes with sequence number `seq`: `"<run id>:<seq>"`, a
/// string (the docs allow strings of up to 4096 characters), so that the one attribute name
/// ([`LOAD_ATTRIBUTE`]) serves every run and a value tells whose write it is.
pub fn seq_value(run_id: &str, seq: u64) -> String {
    format!("{run_id}:{seq}")
}

/// A value of [`LOAD_ATTRIBUTE`] read back: the run that wrote it and its sequence number;
/// `None` for anything that is not a load's value.
pub fn parse_seq_value(value: &Value) -> Option<(&str, u64)> {
    let (run, seq) = value.as_str()?.rsplit_once(':')?;
    Some((run, seq.parse().ok()?))
}

/// PATCH registration: writes the user's next sequence number (as [`seq_value`]) into
/// [`LOAD_ATTRIBUTE`] of one of its own registrations, and remembers it once acknowledged; the
/// answer must carry the write. Without a partition (more users than registrations) the user
/// reads instead.
pub async fn patch_registration(user: &mut GooseUser, run: &Run) -> TransactionResult {
    let Some((at, seq)) = run.next_write(user) else {
        return get_registration(user, run).await;
    };
    let value = seq_value(&run.run_id, seq);
    // The run ID is hex: nothing to escape.
    let body = format!(
        "{{\"{}\":{{\"{LOAD_ATTRIBUTE}\":\"{value}\"}}}}",
        field::ADDITIONAL_DATA,
    );
    let builder = run
        .builder(user, Operation::Patch, at)?
        .header(CONTENT_TYPE, run.json.clone())
        .body(body);
    let request = goose_request(run, Operation::Patch, at, builder)?;
    let Some(goose) = run.send(user, request).await? else {
        run.acknowledge(user, at, false, |_| {});
        return Ok(());
    };
    let value = Value::from(value);
    let meaning = Meaning::Wrote {
        id: &run.feed.entries[at].registration_id,
        name: LOAD_ATTRIBUTE,
        value: &value,
    };
    let acknowledged = run
        .settle(user, Operation::Patch, goose, run.expect(at, meaning))
        .await?;
    run.acknowledge(user, at, acknowledged, |e| {
        e.seq = Some(seq);
        e.last = Some(Operation::Patch);
    });
    Ok(())
}

/// The `externalId` of the load's own person for a registration (one person per device).
pub fn load_external_id(registration_id: &str) -> String {
    format!("{EXTERNAL_ID_PREFIX}{registration_id}")
}

/// POST personalize: binds one of the user's registrations to its own person
/// (`externalId` derived from the registration ID, `setDeviceAsPrimary`; `forceDepersonalize`
/// on a simulator only, see [`crate::load::feed::FeedEntry::for_live`]), so the device must read
/// back as primary; the answer must be that person. Devices excluded from person operations
/// (bound to someone before a live run) are skipped.
pub async fn personalize(user: &mut GooseUser, run: &Run) -> TransactionResult {
    let Some((at, _)) = run.next_person_write(user) else {
        return get_registration(user, run).await;
    };
    let entry = &run.feed.entries[at];
    let external_id = load_external_id(&entry.registration_id);
    let body =
        serde_json::json!({ field::IDENTITY: { field::EXTERNAL_ID: external_id } }).to_string();
    let builder = run
        .builder(user, Operation::Personalize, at)?
        .header(CONTENT_TYPE, run.json.clone())
        .body(body);
    let request = goose_request(run, Operation::Personalize, at, builder)?;
    let Some(goose) = run.send(user, request).await? else {
        run.acknowledge(user, at, false, |_| {});
        return Ok(());
    };
    let meaning = Meaning::Person {
        external_id: Some(&external_id),
        phone: None,
        email: None,
    };
    let acknowledged = run
        .settle(user, Operation::Personalize, goose, run.expect(at, meaning))
        .await?;
    run.acknowledge(user, at, acknowledged, |e| {
        e.primary = Some(true);
        e.last = Some(Operation::Personalize);
    });
    Ok(())
}

/// POST depersonalize: detaches one of the user's registrations from its person; the answer
/// must be empty. Devices excluded from person operations are skipped.
pub async fn depersonalize(user: &mut GooseUser, run: &Run) -> TransactionResult {
    let Some((at, _)) = run.next_person_write(user) else {
        return get_registration(user, run).await;
    };
    let builder = run.builder(user, Operation::Depersonalize, at)?;
    let request = goose_request(run, Operation::Depersonalize, at, builder)?;
    let Some(goose) = run.send(user, request).await? else {
        run.acknowledge(user, at, false, |_| {});
        return Ok(());
    };
    let acknowledged = run
        .settle(
            user,
            Operation::Depersonalize,
            goose,
            run.expect(at, Meaning::Nothing),
        )
        .await?;
    run.acknowledge(user, at, acknowledged, |e| {
        e.primary = None;
        e.last = Some(Operation::Depersonalize);
    });
    Ok(())
}

/// The name of goose's transaction row of the mix: one row for every operation (goose's request
/// rows, one per operation, carry the figures per operation).
pub const MIX_TRANSACTION: &str = "next operation of the mix";
/// The name of goose's row of the on-start transaction (no request).
pub const START_TRANSACTION: &str = "start at this user's phase of the mix";

/// The user's next operation of the mix: the one its sequence asks for, or a GET when it is a
/// write and the user has no registration of its own to write (counted by the [`Mixer`]).
pub async fn next_of_mix(user: &mut GooseUser, run: &Run, mixer: &Mixer) -> TransactionResult {
    let pick = mixer.next(user.weighted_users_index, || run.sendable(user));
    match pick.send {
        Operation::Get => get_registration(user, run).await,
        Operation::Patch => patch_registration(user, run).await,
        Operation::Personalize => personalize(user, run).await,
        Operation::Depersonalize => depersonalize(user, run).await,
    }
}

/// goose's transaction that sends the user's next operation of the mix ([`next_of_mix`]).
pub fn mix_transaction(run: &Arc<Run>, mixer: &Arc<Mixer>) -> goose::goose::Transaction {
    // Both behind one `Arc`: one shared count to touch per request, as one transaction per
    // operation had.
    let both = Arc::new((Arc::clone(run), Arc::clone(mixer)));
    let f: goose::goose::TransactionFunction = Arc::new(move |user| {
        let both = Arc::clone(&both);
        Box::pin(async move { next_of_mix(user, &both.0, &both.1).await })
    });
    goose::goose::Transaction::new(f).set_name(MIX_TRANSACTION)
}

/// goose's on-start transaction: puts the user at its phase of the mix ([`Mixer::start`]).
///
/// It also gives the user pushcheck's client (`client`: the `--ca-cert` roots and the proxy
/// route, see [`crate::api::transport`]) in place of the one goose built.
pub fn start_transaction(
    mixer: &Arc<Mixer>,
    client: &reqwest::Client,
) -> goose::goose::Transaction {
    let mixer = Arc::clone(mixer);
    let client = client.clone();
    let f: goose::goose::TransactionFunction = Arc::new(move |user| {
        mixer.start(user.weighted_users_index);
        user.client = client.clone();
        Box::pin(async { Ok(()) })
    });
    goose::goose::Transaction::new(f)
        .set_name(START_TRANSACTION)
        .set_on_start()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goose_rows_are_the_operation_labels() {
        for op in Operation::ALL {
            assert_eq!(format!("{} {}", op.method(), request_name(op)), op.label());
        }
    }
}
