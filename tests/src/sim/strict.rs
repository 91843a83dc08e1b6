//! Accepting parameters only where the spec puts them.
//!
//! Kalshi answers 400 when a request carries a parameter the endpoint does
//! not take, for example `subaccount` in the body of a cancel (it belongs in
//! the query there). The simulator reads every operation's query parameters
//! and body properties from the vendored spec and refuses the rest, so a
//! client that routes a parameter to the wrong place fails here too.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::http::ApiErr;

#[derive(Default)]
struct Allowed {
    query: HashSet<String>,
    body: HashSet<String>,
    /// Properties of the elements of body arrays (batch requests), by array name.
    items: HashMap<String, HashSet<String>>,
}

/// Allowed parameters per operationId.
pub(crate) struct SpecIndex {
    operations: HashMap<String, Allowed>,
}

impl SpecIndex {
    /// Indexes the vendored spec.
    pub fn load() -> Self {
        let doc: Value =
            serde_saphyr::from_str(kalshi_openapi::SPEC_YAML).expect("the vendored spec parses");
        let mut operations = HashMap::new();
        for item in doc["paths"]
            .as_object()
            .into_iter()
            .flat_map(|p| p.values())
        {
            for op in item.as_object().into_iter().flat_map(|m| m.values()) {
                let Some(id) = op["operationId"].as_str() else {
                    continue;
                };
                operations.insert(id.to_owned(), allowed(&doc, item, op));
            }
        }
        Self { operations }
    }

    /// 400 when `query` or `body` holds a name the operation does not take.
    pub fn check(
        &self,
        operation_id: &str,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<(), ApiErr> {
        let Some(allowed) = self.operations.get(operation_id) else {
            return Ok(());
        };
        if let Some((name, _)) = query.iter().find(|(name, _)| !allowed.query.contains(name)) {
            return Err(unexpected(&format!("query parameter `{name}`")));
        }
        let Some(Value::Object(fields)) = body else {
            return Ok(());
        };
        for (name, value) in fields {
            if !allowed.body.contains(name) {
                return Err(unexpected(&format!("body field `{name}`")));
            }
            if let (Some(item_names), Value::Array(elements)) = (allowed.items.get(name), value) {
                for field in elements
                    .iter()
                    .filter_map(Value::as_object)
                    .flat_map(|o| o.keys())
                {
                    if !item_names.contains(field) {
                        return Err(unexpected(&format!("field `{field}` in `{name}[]`")));
                    }
                }
            }
        }
        Ok(())
    }
}

fn unexpected(what: &str) -> ApiErr {
    ApiErr::new(
        400,
        "invalid_parameters",
        &format!("unexpected {what} for this endpoint"),
    )
}

fn resolve<'a>(doc: &'a Value, node: &'a Value) -> &'a Value {
    match node["$ref"].as_str().and_then(|r| r.strip_prefix('#')) {
        Some(pointer) => doc
            .pointer(pointer)
            .map_or(node, |target| resolve(doc, target)),
        None => node,
    }
}

fn allowed(doc: &Value, item: &Value, op: &Value) -> Allowed {
    let mut out = Allowed::default();
    for list in [&item["parameters"], &op["parameters"]] {
        for param in list
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| resolve(doc, p))
        {
            if param["in"] == "query" {
                out.query
                    .insert(param["name"].as_str().unwrap_or_default().to_owned());
            }
        }
    }
    let body = resolve(doc, &op["requestBody"]);
    let schema = resolve(doc, &body["content"]["application/json"]["schema"]);
    for (name, prop) in properties(doc, schema) {
        let prop = resolve(doc, prop);
        if prop["type"] == "array" {
            let names = properties(doc, resolve(doc, &prop["items"]))
                .into_iter()
                .map(|(n, _)| n.to_owned())
                .collect();
            out.items.insert(name.to_owned(), names);
        }
        out.body.insert(name.to_owned());
    }
    out
}

fn properties<'a>(doc: &'a Value, schema: &'a Value) -> Vec<(&'a str, &'a Value)> {
    let mut out = Vec::new();
    for member in schema["allOf"].as_array().into_iter().flatten() {
        out.extend(properties(doc, resolve(doc, member)));
    }
    if let Some(props) = schema["properties"].as_object() {
        out.extend(props.iter().map(|(k, v)| (k.as_str(), v)));
    }
    out
}
