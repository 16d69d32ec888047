//! Documentation that must stay true: the reference sections of docs/reference.md are regenerated from
//! `--help` and the simulator's choices and compared; the CI recipes parse as YAML and every
//! pushcheck command in them parses with the real command line.
//!
//! When the help text changes on purpose: `PUSHCHECK_BLESS=1 cargo test --test integration docs`
//! rewrites those generated sections.

use yaml_rust2::{Yaml, YamlLoader};

use crate::util::{project_path, run_cli};

const BEGIN: &str = "<!-- BEGIN generated: ";
const END: &str = "<!-- END generated -->";

/// The text a generated section must hold, by its key (`help check`, `choices`).
fn generate(key: &str) -> String {
    if let Some(args) = key.strip_prefix("help") {
        let mut argv: Vec<&str> = args.split_whitespace().collect();
        argv.push("--help");
        let run = run_cli(&argv);
        assert_eq!(run.exit, pushcheck::cli::Exit::Passed, "{argv:?}");
        return format!(
            "```text\n$ pushcheck {}\n{}```\n",
            argv.join(" "),
            run.stdout
        );
    }
    if key == "load kill matrix" {
        return crate::verdict::kill_matrix_markdown();
    }
    if key == "defects" {
        let mut table = String::from(
            "| defect | what it breaks | what the simulator does instead | where |\n|---|---|---|---|\n",
        );
        for d in pushcheck::mock::DEFECTS {
            table.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                d.name,
                d.breaks.replace('|', "\\|"),
                d.instead.replace('|', "\\|"),
                d.layer.label()
            ));
        }
        return table;
    }
    assert_eq!(key, "choices", "unknown generated section {key:?}");
    let mut table = String::from("| id | what the simulator does | why |\n|---|---|---|\n");
    for c in pushcheck::mock::CHOICES {
        table.push_str(&format!(
            "| `{}` | {} | {} |\n",
            c.id,
            c.behaviour.replace('|', "\\|"),
            c.reason.replace('|', "\\|")
        ));
    }
    table
}

#[test]
fn readme_reference_matches_help_and_choices() {
    let path = project_path("docs/reference.md");
    let readme = std::fs::read_to_string(&path).expect("docs/reference.md");
    let mut out = String::with_capacity(readme.len());
    let mut rest = readme.as_str();
    let mut sections = Vec::new();
    while let Some(start) = rest.find(BEGIN) {
        let header_end = start + rest[start..].find("-->").expect("closing -->") + 3;
        let key = rest[start + BEGIN.len()..header_end - 3].trim().to_owned();
        let end = header_end + rest[header_end..].find(END).expect("END marker");
        out.push_str(&rest[..header_end]);
        out.push('\n');
        out.push_str(&generate(&key));
        out.push_str(END);
        sections.push(key);
        rest = &rest[end + END.len()..];
    }
    out.push_str(rest);
    for required in [
        "help",
        "help check",
        "help contract",
        "help load",
        "help mock",
        "help schemas",
        "help schemas diff",
        "choices",
        "defects",
    ] {
        assert!(
            sections.iter().any(|s| s == required),
            "docs/reference.md has a generated section `{required}`"
        );
    }
    if out != readme {
        if std::env::var_os("PUSHCHECK_BLESS").is_some() {
            std::fs::write(&path, out).expect("rewrite docs/reference.md");
        } else {
            panic!(
                "docs/reference.md's generated reference is out of date with --help or the simulator's choices; \
                 run `PUSHCHECK_BLESS=1 cargo test --test integration docs` and review the diff"
            );
        }
    }
}

/// Splits a shell command line into words: whitespace-separated, quotes removed, `\`-newline
/// continuations joined. Variables stay as written (`$REG1`), which is a fine flag value.
fn shell_words(line: &str) -> Vec<String> {
    let line = line.replace("\\\n", " ");
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            (None, c) => word.push(c),
        }
    }
    if any || !word.is_empty() {
        words.push(word);
    }
    words
}

/// Every string under `run:` keys and in `script:` lists.
fn commands(yaml: &Yaml, out: &mut Vec<String>) {
    match yaml {
        Yaml::Hash(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    (Some("run"), Yaml::String(s)) => out.push(s.clone()),
                    (Some("script"), Yaml::Array(items)) => {
                        out.extend(items.iter().filter_map(|i| i.as_str().map(str::to_owned)));
                    }
                    _ => commands(value, out),
                }
            }
        }
        Yaml::Array(items) => items.iter().for_each(|i| commands(i, out)),
        _ => {}
    }
}

#[test]
fn ci_recipes_parse_and_name_commands_that_exist() {
    for (file, invocations) in [
        ("examples/ci/github-actions.yml", 3),
        ("examples/ci/gitlab-ci.yml", 3),
    ] {
        let text = std::fs::read_to_string(project_path(file)).expect("recipe");
        let docs =
            YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{file} is not YAML: {e}"));
        let mut all = Vec::new();
        for doc in &docs {
            commands(doc, &mut all);
        }
        let mut found = 0;
        let mut diffs = 0;
        for command in &all {
            let words = shell_words(command);
            // A command that runs pushcheck (not one that names its file, like chmod).
            let Some(at) = words
                .first()
                .filter(|w| *w == "pushcheck" || w.ends_with("/pushcheck"))
                .map(|_| 0)
            else {
                continue;
            };
            found += 1;
            let argv =
                std::iter::once("pushcheck").chain(words[at + 1..].iter().map(String::as_str));
            if let Err(e) = pushcheck::cli::parse_args(argv) {
                panic!("{file}: `{command}` does not parse: {e}");
            }
            if words.iter().any(|w| w == "diff") {
                // The published OpenAPI file against pushcheck's schemas, with the committed
                // baseline and a JUnit report of its own.
                for flag in ["--baseline", "--junit"] {
                    assert!(
                        words.iter().any(|w| w == flag),
                        "{file}: `{command}` has {flag}"
                    );
                }
                let baseline = words
                    .iter()
                    .skip_while(|w| *w != "--baseline")
                    .nth(1)
                    .expect("a baseline path");
                let source = pushcheck::schema::input::Source::parse(&project_path(baseline));
                pushcheck::schema::diff::Baseline::read(&source, pushcheck::schema::registry())
                    .unwrap_or_else(|e| panic!("{file}: the committed baseline: {e}"));
                diffs += 1;
                continue;
            }
            assert!(
                words.iter().any(|w| w == "--report-dir"),
                "{file}: `{command}` keeps its reports"
            );
        }
        assert_eq!(found, invocations, "{file}: pushcheck invocations");
        assert_eq!(diffs, 1, "{file}: one schemas diff of the published file");
        assert!(
            text.contains("\"$PUSHCHECK_OPENAPI_URL\""),
            "{file}: the published file's URL comes from a CI variable"
        );
        assert!(
            text.contains("reports/junit.xml"),
            "{file} publishes the JUnit report"
        );
        assert!(
            !text.contains("PUSHCHECK_API_KEY: pushcheck"),
            "{file} takes credentials from secrets"
        );
    }
}

/// The recipes work as written: the JUnit action may publish a check, jobs cannot hang forever,
/// a pull request runs once, and the staging load writes only to its own feed.
#[test]
fn ci_recipes_have_permissions_timeouts_one_run_per_pr_and_a_load_feed() {
    let text =
        std::fs::read_to_string(project_path("examples/ci/github-actions.yml")).expect("recipe");
    let doc = &YamlLoader::load_from_str(&text).expect("YAML")[0];
    assert_eq!(doc["permissions"]["checks"].as_str(), Some("write"));
    assert_eq!(doc["permissions"]["contents"].as_str(), Some("read"));
    let on = &doc["on"];
    let branches: Vec<&str> = on["push"]["branches"]
        .as_vec()
        .expect("push is limited to branches")
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert_eq!(branches, vec!["main"], "a PR's pushes must not run twice");
    assert!(!on["pull_request"].is_badvalue(), "pull requests run");
    let jobs = doc["jobs"].as_hash().expect("jobs");
    for (name, job) in jobs {
        assert!(
            job["timeout-minutes"].as_i64().is_some_and(|m| m > 0),
            "job {name:?} has timeout-minutes"
        );
    }
    let gitlab =
        std::fs::read_to_string(project_path("examples/ci/gitlab-ci.yml")).expect("recipe");
    let gitlab_doc = &YamlLoader::load_from_str(&gitlab).expect("YAML")[0];
    assert!(gitlab_doc[".pushcheck"]["timeout"].as_str().is_some());
    for (file, recipe) in [("github", &text), ("gitlab", &gitlab)] {
        let docs = YamlLoader::load_from_str(recipe).expect("YAML");
        let mut all = Vec::new();
        for doc in &docs {
            commands(doc, &mut all);
        }
        let live: Vec<Vec<String>> = all
            .iter()
            .map(|c| shell_words(c))
            .filter(|w| w.iter().any(|x| x == "--allow-writes"))
            .collect();
        assert_eq!(live.len(), 1, "{file}: one staging invocation");
        assert!(
            live[0].iter().any(|w| w == "--feed"),
            "{file}: the staging load gets its own --feed: {:?}",
            live[0]
        );
    }
}

/// A YAML document as JSON (keys as strings), to validate it against a JSON Schema.
fn yaml_to_json(yaml: &Yaml) -> serde_json::Value {
    use serde_json::Value;
    match yaml {
        Yaml::Real(r) => r
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => Value::from(s.as_str()),
        Yaml::Boolean(b) => Value::from(*b),
        Yaml::Array(items) => Value::Array(items.iter().map(yaml_to_json).collect()),
        Yaml::Hash(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        Yaml::Boolean(b) => b.to_string(),
                        other => format!("{other:?}"),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        _ => Value::Null,
    }
}

/// The GitHub recipe is a valid workflow (SchemaStore's published schema, kept as a fixture),
/// and both recipes hold in CI: pushcheck built once and handed on, caches keyed on
/// Cargo.lock, one staging run at a time on the devices, reports kept whatever the outcome.
#[test]
fn ci_recipes_are_valid_build_once_and_never_overlap_on_the_devices() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(project_path(
            "tests/fixtures/ci/github-workflow.schema.json",
        ))
        .expect("fixture"),
    )
    .expect("schema JSON");
    let validator = jsonschema::validator_for(&schema).expect("the workflow schema compiles");
    let text =
        std::fs::read_to_string(project_path("examples/ci/github-actions.yml")).expect("recipe");
    let github = &YamlLoader::load_from_str(&text).expect("YAML")[0];
    let as_json = yaml_to_json(github);
    let errors: Vec<String> = validator
        .iter_errors(&as_json)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "not a valid workflow:\n{}",
        errors.join("\n")
    );
    // A job that breaks the schema fails it: the check can fail.
    let mut broken = as_json.clone();
    broken["jobs"]["build"]["timeout-minutes"] = serde_json::json!("soon");
    assert!(!validator.is_valid(&broken), "the schema check can fail");

    let jobs = github["jobs"].as_hash().expect("jobs");
    let uses = |job: &Yaml| -> Vec<String> {
        job["steps"]
            .as_vec()
            .map(|steps| {
                steps
                    .iter()
                    .filter_map(|s| s["uses"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let builds: Vec<&str> = jobs
        .iter()
        .filter(|(_, job)| {
            job["steps"].as_vec().is_some_and(|steps| {
                steps
                    .iter()
                    .any(|s| s["run"].as_str().is_some_and(|r| r.contains("cargo build")))
            })
        })
        .filter_map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(builds, ["build"], "github: pushcheck is built in one job");
    for (name, job) in jobs {
        let name = name.as_str().unwrap_or_default();
        if name == "build" {
            assert!(
                uses(job)
                    .iter()
                    .any(|u| u.starts_with("Swatinem/rust-cache"))
            );
            continue;
        }
        assert_eq!(
            job["needs"].as_str(),
            Some("build"),
            "github: {name} needs build"
        );
        assert!(
            uses(job)
                .iter()
                .any(|u| u.starts_with("actions/download-artifact")),
            "github: {name} takes the built binary"
        );
        let kept = job["steps"].as_vec().expect("steps").iter().any(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/upload-artifact"))
                && s["if"].as_str() == Some("always()")
        });
        assert!(
            kept,
            "github: {name} keeps its reports whatever the outcome"
        );
    }
    let staging = &github["jobs"]["staging"]["concurrency"];
    assert!(
        staging["group"].as_str().is_some(),
        "github: staging has a concurrency group"
    );
    assert_eq!(
        staging["cancel-in-progress"].as_bool(),
        Some(false),
        "github: a staging run is never cancelled mid-run (its devices would stay changed)"
    );

    let gitlab =
        std::fs::read_to_string(project_path("examples/ci/gitlab-ci.yml")).expect("recipe");
    let gitlab = &YamlLoader::load_from_str(&gitlab).expect("YAML")[0];
    let build = &gitlab["pushcheck:build"];
    let key_files: Vec<&str> = build["cache"]["key"]["files"]
        .as_vec()
        .expect("gitlab: the cache is keyed on files")
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert_eq!(
        key_files,
        ["Cargo.lock"],
        "gitlab: cache keyed on Cargo.lock"
    );
    assert!(
        build["artifacts"]["paths"].as_vec().is_some_and(|p| p
            .iter()
            .any(|p| p.as_str() == Some("target/release/pushcheck"))),
        "gitlab: the build hands its binary on"
    );
    let template = &gitlab[".pushcheck"];
    assert_eq!(template["artifacts"]["when"].as_str(), Some("always"));
    assert!(
        template["needs"]
            .as_vec()
            .is_some_and(|n| n.iter().any(|n| n.as_str() == Some("pushcheck:build"))),
        "gitlab: every pushcheck job takes the built binary"
    );
    for (name, job) in gitlab.as_hash().expect("jobs") {
        let name = name.as_str().unwrap_or_default();
        if name.starts_with("pushcheck:") && name != "pushcheck:build" {
            assert_eq!(
                job["extends"].as_str(),
                Some(".pushcheck"),
                "gitlab: {name}"
            );
            let script = format!("{:?}", job["script"]);
            assert!(
                !script.contains("cargo build"),
                "gitlab: {name} does not rebuild"
            );
        }
    }
    assert!(
        gitlab["pushcheck:staging"]["resource_group"]
            .as_str()
            .is_some(),
        "gitlab: staging runs hold their devices' resource group"
    );
}

/// The README is a front door: short, the install line and the three jobs on it, and every
/// guide it points to exists (as does every local link in the guides).
#[test]
fn the_readme_is_a_front_door_and_its_links_hold() {
    let readme = std::fs::read_to_string(project_path("README.md")).expect("README.md");
    assert!(
        readme.lines().count() <= 220,
        "README.md has {} lines",
        readme.lines().count()
    );
    for needed in [
        "cargo install --locked --path .",
        "pushcheck check",
        "pushcheck contract",
        "pushcheck load",
        "## What is not built yet",
    ] {
        assert!(readme.contains(needed), "README.md shows {needed:?}");
    }
    for (file, text) in [
        ("README.md", readme.clone()),
        (
            "docs/qa.md",
            std::fs::read_to_string(project_path("docs/qa.md")).expect("qa"),
        ),
        (
            "docs/performance.md",
            std::fs::read_to_string(project_path("docs/performance.md")).expect("perf"),
        ),
        (
            "docs/ci.md",
            std::fs::read_to_string(project_path("docs/ci.md")).expect("ci"),
        ),
    ] {
        let base = std::path::Path::new(&project_path(file))
            .parent()
            .expect("a folder")
            .to_owned();
        for link in text.split("](").skip(1) {
            let target = link.split(')').next().unwrap_or_default();
            let path = target.split('#').next().unwrap_or_default();
            if path.is_empty() || path.contains("://") {
                continue;
            }
            assert!(
                base.join(path).exists(),
                "{file}: the link {target} leads nowhere"
            );
        }
    }
}
