//! Which cases a run selects: `--filter` patterns (repeatable; substring, or `*` wildcards).

use super::cases::{self, CaseSpec};

/// The cases `filters` select (every case when empty), in run order.
pub fn select(filters: &[String]) -> Vec<&'static CaseSpec> {
    cases::all()
        .into_iter()
        .filter(|c| filters.is_empty() || filters.iter().any(|p| matches_filter(c.name, p)))
        .collect()
}

/// `*` matches any run of characters; without `*`, a substring match.
fn matches_filter(name: &str, pattern: &str) -> bool {
    if !pattern.contains('*') {
        return name.contains(pattern);
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = name;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::matches_filter;

    #[test]
    fn filters_match_substrings_and_wildcards() {
        assert!(matches_filter(
            "patch.custom_attribute.name_257_chars",
            "custom_attribute"
        ));
        assert!(matches_filter(
            "patch.custom_attribute.name_257_chars",
            "patch.*257*"
        ));
        assert!(matches_filter("get.existing", "get.*"));
        assert!(!matches_filter("get.existing", "patch.*"));
        assert!(!matches_filter("get.existing", "*.unknown_id"));
    }
}
