//! pushcheck's integration tests: one test binary, one module per area.
//!
//! Tests bind port 0 and read the address back, poll servers with a deadline instead of sleeping,
//! and only ever talk to 127.0.0.1.

mod util;

// ARCHITECTURE.md's allowed arrows between modules, and no circles inside a folder.
mod arrows;

// The schemas, the doc examples, shapes, the OpenAPI export and `pushcheck schemas`.
mod schemas;

// `pushcheck schemas diff`: a published OpenAPI document against pushcheck's schemas.
mod diff;

// The embedded simulator: operations, errors, rules under concurrency, hostile input, faults, CLI.
mod mock;

// The contract suite: the simulator passes it, wiremock breaks are caught, reports, secrets.
mod contract;

// The kill matrix: the contract suite against every planted defect of the simulator.
mod kill;

// Generated, stateful, differential contract testing: planted defects found and shrunk.
mod generate;

// `pushcheck load`: scenarios, reports, exit codes, validation under load, CO, lost updates.
mod load;

// `--metrics-addr`: the live OpenMetrics endpoint scraped while a load runs, against summary.json.
mod metrics;

// Stages and arrival rate: rates held, shortfalls told apart, one writer per registration.
mod pace;

// A live load leaves its devices as found: one bounded attribute, persons unbound, isPrimary.
mod footprint;

// The load verdict against stand-ins with one defect each, and the real binary's endings.
mod standin;
mod verdict;

// Stand-ins for a live account (choices the docs leave open, one defect each), every command.
mod live;

// TLS (a private CA, --ca-cert) and proxies (HTTP_PROXY/NO_PROXY), as subprocesses.
mod tls;

// `pushcheck check` end to end, as a subprocess.
mod check;

// SIGTERM and SIGHUP, sent to the real binary: every command stops, reports, restores, exits 3.
mod signal;

// pushcheck's own HTML report, parsed.
mod report;

// Documentation that must stay true: README reference vs --help, CI recipes.
mod docs;
