//! Benchmark baseline: a bare goose load test in goose's own example style (`examples/simple.rs`):
//! one scenario, one GET transaction that reads the body, goose's own command line.
//!
//! `bench/load.sh` builds this file as a cargo project of its own, twice: with goose's default
//! features (the baseline, `cookies` on) and without them (as pushcheck builds goose).
//! Inside pushcheck's tree, as `cargo run --example bare_goose`, goose is built as pushcheck
//! builds it (features unify within a tree): without cookies.
//!
//! The request path comes from `BARE_PATH` (default: the doc's registration); `BARE_AUTH` and
//! `BARE_APP_CODE`, when set, are sent as `Authorization` and `AppCode`, so that the baseline
//! sends what pushcheck sends.
//!
//! Usage: `bare_goose --host http://127.0.0.1:PORT -u 32 -r 1000 -t 10 --report-file r.json`

use std::sync::OnceLock;

use goose::prelude::*;

/// Path and headers of the one request, read once.
struct Request {
    path: String,
    auth: Option<String>,
    app_code: Option<String>,
}

fn request() -> &'static Request {
    static REQUEST: OnceLock<Request> = OnceLock::new();
    REQUEST.get_or_init(|| Request {
        path: std::env::var("BARE_PATH").unwrap_or_else(|_| {
            "/people/2/contactInformation/push/8621824C-86B2-41F7-BF6F-20D3B1426005".to_owned()
        }),
        auth: std::env::var("BARE_AUTH").ok(),
        app_code: std::env::var("BARE_APP_CODE").ok(),
    })
}

#[tokio::main]
async fn main() -> Result<(), GooseError> {
    GooseAttack::initialize()?
        .register_scenario(scenario!("Reader").register_transaction(transaction!(get_registration)))
        .execute()
        .await?;
    Ok(())
}

/// GETs the registration and reads the whole body.
async fn get_registration(user: &mut GooseUser) -> TransactionResult {
    let r = request();
    let mut builder = user.get_request_builder(&GooseMethod::Get, &r.path)?;
    if let Some(auth) = &r.auth {
        builder = builder.header("Authorization", auth);
    }
    if let Some(code) = &r.app_code {
        builder = builder.header("AppCode", code);
    }
    let request = GooseRequest::builder()
        .path(r.path.as_str())
        .set_request_builder(builder)
        .build();
    let goose = user.request(request).await?;
    if let Ok(response) = goose.response {
        let _body = response.bytes().await;
    }
    Ok(())
}
