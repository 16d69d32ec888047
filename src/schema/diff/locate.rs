//! Finding pushcheck's four operations in an OpenAPI document, by method and path template
//! whatever the path parameter is called (`/push/{pushRegId}` and `/push/{id}` are one
//! template), and the parts of an operation a diff compares: parameters (path-level and
//! operation-level, `$ref`s followed), the JSON request body and the JSON body of each
//! response status.

use serde_json::Value;

use super::resolve::{Doc, ResolveError, child};
use crate::api::Operation;

/// An operation found in a document.
#[derive(Debug, Clone)]
pub struct Found<'a> {
    /// The method as the document spells it (`get`).
    pub method: String,
    /// The path template as the document spells it.
    pub path: String,
    /// JSON pointer of the operation object.
    pub at: String,
    pub operation: &'a Value,
    pub path_item: &'a Value,
    pub path_at: String,
}

/// One parameter of an operation.
#[derive(Debug, Clone)]
pub struct Param<'a> {
    /// `path`, `query`, `header` or `cookie`.
    pub location: String,
    pub name: String,
    pub required: bool,
    pub schema: Option<(&'a Value, String)>,
    /// JSON pointer of the parameter object (after `$ref`s).
    pub at: String,
}

/// A request or response body: the schema of its JSON content, if it has content.
#[derive(Debug, Clone)]
pub struct Body<'a> {
    pub schema: Option<(&'a Value, String)>,
    /// JSON pointer of the request body or response object (after `$ref`s).
    pub at: String,
}

/// A path template with every `{parameter}` made anonymous, without a trailing slash.
fn template_key(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_param = false;
    for c in path.trim_end_matches('/').chars() {
        match (c, in_param) {
            ('{', _) => {
                in_param = true;
                out.push_str("{}");
            }
            ('}', _) => in_param = false,
            (c, false) => out.push(c),
            (_, true) => {}
        }
    }
    out
}

/// The path parts of the document's `servers` URLs (`https://host/people/2` → `/people/2`),
/// and `""`: a file may write its paths relative to a base path.
fn base_paths(doc: Doc<'_>) -> Vec<String> {
    let mut out = vec![String::new()];
    let servers = doc.root.get("servers").and_then(Value::as_array);
    for url in servers
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("url")?.as_str())
    {
        let path = match url.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
            None => url,
        };
        let path = path.trim_end_matches('/');
        if path.starts_with('/') && !path.contains('{') && !out.iter().any(|p| p == path) {
            out.push(path.to_owned());
        }
    }
    out
}

/// Where `op` is in `doc`, if it is there.
pub fn find<'a>(doc: Doc<'a>, op: Operation) -> Result<Option<Found<'a>>, ResolveError> {
    let want = template_key(&op.path_template());
    let method = op.method().to_ascii_lowercase();
    let Some(Value::Object(paths)) = doc.root.get("paths") else {
        return Ok(None);
    };
    let bases = base_paths(doc);
    for (path, item) in paths {
        if !bases
            .iter()
            .any(|base| template_key(&format!("{base}{path}")) == want)
        {
            continue;
        }
        let (item, path_at) = doc.follow(item, &child("/paths", path))?;
        if let Some(operation) = item.get(&method).filter(|o| o.is_object()) {
            return Ok(Some(Found {
                at: child(&path_at, &method),
                method: method.clone(),
                path: path.clone(),
                operation,
                path_item: item,
                path_at,
            }));
        }
    }
    Ok(None)
}

/// The operation's parameters: the path item's, overridden by the operation's own (same `in`
/// and name), in the order they are declared.
pub fn parameters<'a>(doc: Doc<'a>, found: &Found<'a>) -> Result<Vec<Param<'a>>, ResolveError> {
    let mut out: Vec<Param<'a>> = Vec::new();
    for (holder, at) in [
        (found.path_item, &found.path_at),
        (found.operation, &found.at),
    ] {
        let Some(Value::Array(list)) = holder.get("parameters") else {
            continue;
        };
        let list_at = child(at, "parameters");
        for (i, param) in list.iter().enumerate() {
            let (param, param_at) = doc.follow(param, &child(&list_at, &i.to_string()))?;
            let location = text(param, "in");
            let name = text(param, "name");
            let schema = match param.get("schema") {
                Some(schema) => Some((schema, child(&param_at, "schema"))),
                None => media_schema(param, &param_at),
            };
            let entry = Param {
                required: param.get("required") == Some(&Value::Bool(true)) || location == "path",
                location,
                name,
                schema,
                at: param_at,
            };
            match out
                .iter_mut()
                .find(|p| p.location == entry.location && same_name(p, &entry))
            {
                Some(existing) => *existing = entry,
                None => out.push(entry),
            }
        }
    }
    Ok(out)
}

/// Header names are case-insensitive; every other parameter's is not.
pub fn same_name(a: &Param<'_>, b: &Param<'_>) -> bool {
    if a.location == "header" {
        a.name.eq_ignore_ascii_case(&b.name)
    } else {
        a.name == b.name
    }
}

/// The operation's request body, if it declares one.
pub fn request_body<'a>(doc: Doc<'a>, found: &Found<'a>) -> Result<Option<Body<'a>>, ResolveError> {
    let Some(body) = found.operation.get("requestBody") else {
        return Ok(None);
    };
    let (body, at) = doc.follow(body, &child(&found.at, "requestBody"))?;
    Ok(Some(Body {
        schema: media_schema(body, &at),
        at,
    }))
}

/// Every response of the operation, by status as written (`200`, `4XX`, `default`).
pub fn responses<'a>(
    doc: Doc<'a>,
    found: &Found<'a>,
) -> Result<Vec<(String, Body<'a>)>, ResolveError> {
    let Some(Value::Object(map)) = found.operation.get("responses") else {
        return Ok(Vec::new());
    };
    let list_at = child(&found.at, "responses");
    let mut out = Vec::new();
    for (status, response) in map {
        let (response, at) = doc.follow(response, &child(&list_at, status))?;
        out.push((
            status.clone(),
            Body {
                schema: media_schema(response, &at),
                at,
            },
        ));
    }
    Ok(out)
}

/// The schema of the JSON content of a body, response or parameter: `application/json`, else
/// any `…json` media type, else the first one.
fn media_schema<'a>(holder: &'a Value, at: &str) -> Option<(&'a Value, String)> {
    let Some(Value::Object(content)) = holder.get("content") else {
        return None;
    };
    let content_at = child(at, "content");
    let pick = content
        .iter()
        .find(|(media, _)| media.as_str() == "application/json")
        .or_else(|| content.iter().find(|(media, _)| media.contains("json")))
        .or_else(|| content.iter().next())?;
    let schema = pick.1.get("schema")?;
    Some((schema, child(&child(&content_at, pick.0), "schema")))
}

fn text(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn templates_match_whatever_the_parameter_is_called() {
        assert_eq!(
            template_key("/people/2/contactInformation/push/{id}/personalize/"),
            template_key(&Operation::Personalize.path_template())
        );
        let doc = json!({"paths": {
            "/people/2/contactInformation/push/{registrationId}": {
                "parameters": [{"name": "AppCode", "in": "header", "required": true, "schema": {"type": "string"}}],
                "get": {"parameters": [{"name": "appcode", "in": "header", "schema": {"type": "integer"}}], "responses": {}}
            }
        }});
        let d = Doc::new(&doc);
        let found = find(d, Operation::Get).expect("ok").expect("found");
        assert_eq!(
            found.at,
            "/paths/~1people~12~1contactInformation~1push~1{registrationId}/get"
        );
        assert!(find(d, Operation::Patch).expect("ok").is_none());
        let params = parameters(d, &found).expect("params");
        assert_eq!(
            params.len(),
            1,
            "the operation's header overrides the path item's"
        );
        assert!(!params[0].required);
    }

    #[test]
    fn paths_relative_to_a_server_base_path_are_found() {
        let doc = json!({
            "servers": [{"url": "https://api.example.invalid/people/2/"}, {"url": "{scheme}://x"}],
            "paths": {"/contactInformation/push/{id}/depersonalize": {"post": {"responses": {}}}}
        });
        let found = find(Doc::new(&doc), Operation::Depersonalize)
            .expect("ok")
            .expect("found");
        assert_eq!(found.path, "/contactInformation/push/{id}/depersonalize");
        assert!(
            find(Doc::new(&doc), Operation::Personalize)
                .expect("ok")
                .is_none()
        );
    }
}
