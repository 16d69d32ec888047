//! ARCHITECTURE.md's "never" rules, enforced: every `crate::…` path in `src/` against the
//! allowed-arrows table that ARCHITECTURE.md itself holds, and no circle between the files of
//! one folder.
//!
//! The table is read from ARCHITECTURE.md (the lines between `<!-- arrows -->` and
//! `<!-- /arrows -->`), so the page and the check cannot drift: an arrow that is not in the
//! table fails here naming the file, the line and the module it reaches. Paths are read from
//! `use` statements (braces expanded) and from qualified paths in code; comments are skipped.
//! Relative paths (`super::x`) count too. Re-exports are not followed: an import of
//! `crate::load::LoadResult` is an arrow to `load`, not to `load::result`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).expect("read src dir") {
            let p = entry.expect("dir entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The module path of a file: `src/load/arrival.rs` → `["load", "arrival"]`,
/// `src/load/mod.rs` → `["load"]`, `src/lib.rs` → `[]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_owned());
    }
    parts
}

/// The text without `//` comments (line and doc) and without string literals' contents, so
/// a path named in a message or a comment is not an arrow.
fn code_only(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut in_block = false;
    for (n, line) in text.lines().enumerate() {
        let mut code = String::new();
        let mut chars = line.chars().peekable();
        let mut in_str = false;
        while let Some(c) = chars.next() {
            if in_block {
                if c == '*' && chars.peek() == Some(&'/') {
                    chars.next();
                    in_block = false;
                }
                continue;
            }
            if in_str {
                if c == '\\' {
                    chars.next();
                } else if c == '"' {
                    in_str = false;
                    code.push('"');
                }
                continue;
            }
            match c {
                '/' if chars.peek() == Some(&'/') => break,
                '/' if chars.peek() == Some(&'*') => {
                    chars.next();
                    in_block = true;
                }
                '"' => {
                    in_str = true;
                    code.push('"');
                }
                _ => code.push(c),
            }
        }
        out.push((n + 1, code));
    }
    out
}

/// Expands `a::{b, c::{d, e}}` into `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        return vec![tree];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(p).into_iter().map(move |e| format!("{prefix}{e}")))
        .collect()
}

/// Every path a file names, resolved to an absolute module path (`crate` dropped), with the
/// line it is on.
fn paths_of(module: &[String], text: &str) -> Vec<(usize, Vec<String>)> {
    // A file's own `#[cfg(test)]` module comes last; its `use super::*` is not an arrow.
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    let lines = code_only(text);
    let mut raw: Vec<(usize, String)> = Vec::new();
    // `use` statements, possibly over several lines.
    let mut i = 0;
    while i < lines.len() {
        let (n, line) = &lines[i];
        let t = line.trim_start();
        let t = t.strip_prefix("pub ").unwrap_or(t);
        let t = t
            .strip_prefix("pub(crate) ")
            .or_else(|| t.strip_prefix("pub(super) "))
            .unwrap_or(t);
        if let Some(rest) = t.strip_prefix("use ") {
            let mut stmt = rest.to_owned();
            while !stmt.contains(';') && i + 1 < lines.len() {
                i += 1;
                stmt.push_str(&lines[i].1);
            }
            let stmt = stmt.split(';').next().unwrap_or_default();
            raw.extend(expand(stmt).into_iter().map(|p| (*n, p)));
        } else {
            // Qualified paths in code: `crate::x::y`, `super::x`.
            for start in ["crate::", "super::"] {
                let mut from = 0;
                while let Some(at) = line[from..].find(start) {
                    let at = from + at;
                    let before = line[..at].chars().last();
                    if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                        from = at + start.len();
                        continue;
                    }
                    let end = line[at..]
                        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                        .map_or(line.len(), |e| at + e);
                    raw.push((*n, line[at..end].trim_end_matches(':').to_owned()));
                    from = end;
                }
            }
        }
        i += 1;
    }
    let mut out = Vec::new();
    for (n, p) in raw {
        let segs: Vec<&str> = p.split("::").filter(|s| !s.is_empty()).collect();
        let resolved: Option<Vec<String>> = match segs.first() {
            Some(&"crate") => Some(segs[1..].iter().map(|s| (*s).to_owned()).collect()),
            Some(&"super") => {
                // In `a/b.rs` (module a::b) `super` is `a`; in `a/mod.rs` (module a) it is
                // the crate root: one segment up either way.
                let mut base: Vec<String> = module.to_vec();
                let mut rest = &segs[..];
                while rest.first() == Some(&"super") {
                    base.pop();
                    rest = &rest[1..];
                }
                base.extend(rest.iter().map(|s| (*s).to_owned()));
                Some(base)
            }
            _ => None,
        };
        if let Some(r) = resolved.filter(|r| !r.is_empty()) {
            out.push((n, r));
        }
    }
    out
}

/// The allowed arrows: ARCHITECTURE.md's table, `| module | may import |`.
fn allowed_arrows() -> BTreeMap<String, BTreeSet<String>> {
    let page = fs::read_to_string(root().join("ARCHITECTURE.md")).expect("read ARCHITECTURE.md");
    let start = page
        .find("<!-- arrows -->")
        .expect("ARCHITECTURE.md has an <!-- arrows --> table");
    let end = page.find("<!-- /arrows -->").expect("the table's end");
    let mut table = BTreeMap::new();
    for line in page[start..end].lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 3 || !cells[1].starts_with('`') {
            continue;
        }
        let module = cells[1].trim_matches('`').to_owned();
        let may: BTreeSet<String> = cells[2]
            .split(',')
            .map(|s| s.trim().trim_matches('`').to_owned())
            .filter(|s| !s.is_empty() && s != "nothing")
            .collect();
        table.insert(module, may);
    }
    table
}

struct Source {
    file: PathBuf,
    module: Vec<String>,
    paths: Vec<(usize, Vec<String>)>,
}

fn sources() -> Vec<Source> {
    let src = root().join("src");
    rust_files(&src)
        .into_iter()
        .filter(|f| !f.ends_with("main.rs") || f.parent() != Some(src.as_path()))
        // A module's `tests.rs` is its `#[cfg(test)]` module in a file of its own.
        .filter(|f| !f.ends_with("tests.rs"))
        .map(|file| {
            let text = fs::read_to_string(&file).expect("read source");
            let module = module_of(&src, &file);
            let paths = paths_of(&module, &text);
            Source {
                file,
                module,
                paths,
            }
        })
        .collect()
}

#[test]
fn every_arrow_between_top_modules_is_in_architectures_table() {
    let table = allowed_arrows();
    let known: BTreeSet<&str> = table.keys().map(String::as_str).collect();
    let mut wrong = Vec::new();
    for s in sources() {
        let Some(from) = s.module.first() else {
            continue; // lib.rs declares the modules
        };
        let Some(may) = table.get(from) else {
            wrong.push(format!(
                "{}: module `{from}` is not in ARCHITECTURE.md's arrows table",
                s.file.display()
            ));
            continue;
        };
        for (line, path) in &s.paths {
            let to = &path[0];
            if to == from || !known.contains(to.as_str()) {
                continue; // within the module, or not a module of this crate (a macro, std)
            }
            // `a` allows all of `a`; `a::b` allows only that module of `a`.
            let allowed = may.iter().any(|m| {
                let m: Vec<&str> = m.split("::").collect();
                m.len() <= path.len() && m.iter().zip(path).all(|(a, b)| *a == b)
            });
            if !allowed {
                wrong.push(format!(
                    "{}:{line}: `{from}` imports `crate::{}`, and ARCHITECTURE.md says `{from}` may import {}",
                    s.file.strip_prefix(root()).unwrap_or(&s.file).display(),
                    path.join("::"),
                    if may.is_empty() { "nothing".to_owned() } else { format!("only {}", may.iter().cloned().collect::<Vec<_>>().join(", ")) }
                ));
            }
        }
    }
    // An entry `a::b` lets another module reach into `a`, so `a::b` must be a leaf: it names
    // nothing of the crate, and no circle can run through it.
    for leaf in table.values().flatten().filter(|m| m.contains("::")) {
        let module: Vec<String> = leaf.split("::").map(str::to_owned).collect();
        for s in sources().iter().filter(|s| s.module.starts_with(&module)) {
            for (line, path) in &s.paths {
                if !path.starts_with(&module) {
                    wrong.push(format!(
                        "{}:{line}: `{leaf}` is named in ARCHITECTURE.md's table as a leaf, and imports `crate::{}`",
                        s.file.strip_prefix(root()).unwrap_or(&s.file).display(),
                        path.join("::")
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "arrows not allowed by ARCHITECTURE.md:\n{}",
        wrong.join("\n")
    );
}

/// The folder-level graph: in each folder, an arrow from child `a` to child `b` when a file in
/// `a` names `crate::…folder::b`.
fn sibling_cycles() -> Vec<String> {
    let mut edges: BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for s in sources() {
        for (_, path) in &s.paths {
            // The longest common prefix of the two modules is the folder; the next segment on
            // each side is the child.
            let common = s
                .module
                .iter()
                .zip(path.iter())
                .take_while(|(a, b)| a == b)
                .count();
            if common >= s.module.len() || common >= path.len() {
                continue; // a module naming itself, its own children or its ancestors
            }
            let folder = s.module[..common].to_vec();
            if folder.is_empty() {
                continue; // the top modules: ARCHITECTURE.md's table rules them
            }
            let (a, b) = (s.module[common].clone(), path[common].clone());
            edges
                .entry(folder)
                .or_default()
                .entry(a)
                .or_default()
                .insert(b);
        }
    }
    let mut cycles = Vec::new();
    for (folder, graph) in &edges {
        let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
        for (a, outs) in graph {
            for b in outs {
                if a < b
                    && graph.get(b).is_some_and(|o| o.contains(a))
                    && seen.insert((a.clone(), b.clone()))
                {
                    let at = if folder.is_empty() {
                        "src".to_owned()
                    } else {
                        format!("src/{}", folder.join("/"))
                    };
                    cycles.push(format!("{at}: {a} ↔ {b}"));
                }
            }
        }
        // Longer circles: a path back to a node through others.
        for start in graph.keys() {
            let mut stack = vec![(start.clone(), vec![start.clone()])];
            while let Some((node, trail)) = stack.pop() {
                for next in graph.get(&node).into_iter().flatten() {
                    if next == start && trail.len() > 2 && trail.iter().min() == Some(start) {
                        let at = if folder.is_empty() {
                            "src".to_owned()
                        } else {
                            format!("src/{}", folder.join("/"))
                        };
                        cycles.push(format!("{at}: {} → {start}", trail.join(" → ")));
                    } else if !trail.contains(next) && trail.len() < 6 {
                        let mut t = trail.clone();
                        t.push(next.clone());
                        stack.push((next.clone(), t));
                    }
                }
            }
        }
    }
    cycles.sort();
    cycles.dedup();
    cycles
}

/// Circles being taken apart (issue 22): this list only shrinks. A circle not listed fails,
/// and so does a listed one that is gone, so that it is struck off.
const NOT_YET: &[&str] = &["src/load: baseline ↔ threshold"];

#[test]
fn no_circle_between_the_files_of_one_folder() {
    let cycles = sibling_cycles();
    let new: Vec<&String> = cycles
        .iter()
        .filter(|c| !NOT_YET.contains(&c.as_str()))
        .collect();
    let gone: Vec<&&str> = NOT_YET
        .iter()
        .filter(|c| !cycles.iter().any(|f| f == **c))
        .collect();
    assert!(
        new.is_empty(),
        "circles between modules of one folder (move the shared piece down so arrows run one way):\n{}",
        new.iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        gone.is_empty(),
        "these circles are gone: strike them off NOT_YET:\n{}",
        gone.iter().map(|c| **c).collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn the_reader_finds_grouped_relative_and_qualified_paths() {
    let text = "use crate::api::{field, footprint::{Cause, Leftover}};\n\
                use super::result::X; // crate::cli in a comment\n\
                fn f() { let _ = crate::outcome::Outcome::Passed; let _ = \"crate::cli\"; }\n";
    let module = vec!["load".to_owned(), "arrival".to_owned()];
    let found: Vec<String> = paths_of(&module, text)
        .into_iter()
        .map(|(_, p)| p.join("::"))
        .collect();
    assert_eq!(
        found,
        [
            "api::field",
            "api::footprint::Cause",
            "api::footprint::Leftover",
            "load::result::X",
            "outcome::Outcome::Passed",
        ]
    );
    // In a folder's mod.rs, `super` is the folder's parent.
    let found: Vec<String> = paths_of(&["load".to_owned()], "use super::api::field;")
        .into_iter()
        .map(|(_, p)| p.join("::"))
        .collect();
    assert_eq!(found, ["api::field"]);
}
