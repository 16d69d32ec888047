//! The shipped scenarios (`scenarios/*.toml`), built into the binary so that `--scenario
//! read-heavy` works from any directory and an installed pushcheck has them without the
//! repository. A `--scenario` argument is a file when one exists at that path; otherwise a
//! built-in name (`read-heavy`, or `scenarios/read-heavy.toml` as the repository spells it);
//! otherwise an error that names the path and lists the built-in names.

use std::path::{Path, PathBuf};

use super::Scenario;
use super::file::ScenarioError;

/// The built-in scenarios: name and text, in the order `pushcheck scenarios list` shows them.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("smoke", include_str!("../../../scenarios/smoke.toml")),
    (
        "read-heavy",
        include_str!("../../../scenarios/read-heavy.toml"),
    ),
    (
        "write-heavy",
        include_str!("../../../scenarios/write-heavy.toml"),
    ),
    (
        "personalize-storm",
        include_str!("../../../scenarios/personalize-storm.toml"),
    ),
    ("spike", include_str!("../../../scenarios/spike.toml")),
    (
        "rate-limited",
        include_str!("../../../scenarios/rate-limited.toml"),
    ),
];

/// The text of built-in scenario `name` (`read-heavy`, `read-heavy.toml` or
/// `scenarios/read-heavy.toml`).
pub fn text_of(name: &str) -> Option<&'static str> {
    let stem = Path::new(name).file_stem()?.to_str()?;
    let under_scenarios = Path::new(name)
        .parent()
        .is_none_or(|p| p.as_os_str().is_empty() || p == Path::new("scenarios"));
    let plain = name.ends_with(".toml") || !name.contains('/');
    if !(under_scenarios && plain) {
        return None;
    }
    BUILT_IN.iter().find(|(n, _)| *n == stem).map(|(_, t)| *t)
}

/// The names of the built-in scenarios, comma-separated.
pub fn names() -> String {
    BUILT_IN
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Scenario {
    /// A scenario file when `arg` names one, else the built-in scenario of that name; the path
    /// errors and the report name (`(built-in) read-heavy` for a built-in).
    pub fn from_file_or_builtin(arg: &Path) -> Result<(Scenario, PathBuf), ScenarioError> {
        if arg.exists() {
            return Scenario::from_file(arg).map(|s| (s, arg.to_owned()));
        }
        let Some(text) = arg.to_str().and_then(text_of) else {
            return Err(ScenarioError::Missing {
                path: arg.to_owned(),
                built_in: names(),
            });
        };
        let stem = arg.file_stem().map(|s| s.to_string_lossy().into_owned());
        let shown = PathBuf::from(format!(
            "(built-in) scenarios/{}.toml",
            stem.as_deref().unwrap_or_default()
        ));
        let mut scenario = Scenario::from_toml(text, &shown)?;
        if scenario.name.is_none() {
            scenario.name = stem;
        }
        Ok((scenario, shown))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_scenario_is_built_in_and_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let mut shipped: Vec<String> = std::fs::read_dir(&dir)
            .expect("scenarios/")
            .filter_map(|e| e.ok()?.path().file_stem()?.to_str().map(str::to_owned))
            .filter(|n| n != "README")
            .collect();
        shipped.sort();
        let mut built: Vec<String> = BUILT_IN.iter().map(|(n, _)| (*n).to_owned()).collect();
        built.sort();
        assert_eq!(shipped, built, "scenarios/ and the built-in list differ");
        for (name, text) in BUILT_IN {
            let scenario = Scenario::from_toml(text, Path::new(name))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            if let Err(e) = scenario.resolve() {
                panic!("{name}: {e}");
            }
        }
    }

    #[test]
    fn names_and_repository_paths_find_a_built_in() {
        for arg in ["read-heavy", "read-heavy.toml", "scenarios/read-heavy.toml"] {
            assert!(text_of(arg).is_some(), "{arg}");
        }
        for arg in [
            "nope",
            "other/read-heavy.toml",
            "/tmp/read-heavy.toml",
            "scenarios/x/read-heavy",
        ] {
            assert!(text_of(arg).is_none(), "{arg}");
        }
    }
}
