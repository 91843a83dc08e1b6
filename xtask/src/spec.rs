//! Reading the vendored specification and walking its JSON tree.
//!
//! Everything in xtask works on the spec as a `serde_json::Value`: patches
//! edit it in place, the inventory and the spec diff read it, and only the
//! generator converts it to a typed OpenAPI model at the end.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The HTTP methods an OpenAPI path item can hold, in a stable order.
pub const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// `kalshi-openapi/openapi.yaml` under `root`.
pub fn spec_path(root: &Path) -> PathBuf {
    root.join("kalshi-openapi").join("openapi.yaml")
}

/// Parses YAML (or JSON) text into a JSON tree.
pub fn parse(text: &str) -> Result<Value, String> {
    serde_yaml::from_str(text).map_err(|e| format!("the spec is not valid YAML: {e}"))
}

/// Lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Follows a local `$ref` (`#/components/...`) once; other nodes pass through.
pub fn resolve<'a>(doc: &'a Value, node: &'a Value) -> &'a Value {
    let mut node = node;
    // A ref chain longer than this is a cycle; stop rather than loop.
    for _ in 0..16 {
        match node.get("$ref").and_then(Value::as_str) {
            Some(reference) => match lookup(doc, reference) {
                Some(target) => node = target,
                None => return node,
            },
            None => return node,
        }
    }
    node
}

/// The node a `#/a/b/c` JSON pointer names, if any.
pub fn lookup<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    doc.pointer(reference.strip_prefix('#')?)
}

/// The last segment of a `$ref`, i.e. the component name.
pub fn ref_name(node: &Value) -> Option<&str> {
    node.get("$ref")?.as_str()?.rsplit('/').next()
}

/// One operation of the spec with where it lives.
pub struct Operation<'a> {
    /// The path template, e.g. `/portfolio/orders/{order_id}`.
    pub path: &'a str,
    /// Lowercase HTTP method.
    pub method: &'static str,
    /// The operation object.
    pub op: &'a Value,
    /// The path item, which may carry shared parameters.
    pub item: &'a Value,
}

/// Every operation in document order.
pub fn operations(doc: &Value) -> Vec<Operation<'_>> {
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (path, item) in paths {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                out.push(Operation {
                    path,
                    method,
                    op,
                    item,
                });
            }
        }
    }
    out
}

impl Operation<'_> {
    /// The operationId, or `METHOD path` when the spec gives none.
    pub fn id(&self) -> String {
        match self.op.get("operationId").and_then(Value::as_str) {
            Some(id) => id.to_owned(),
            None => format!("{} {}", self.method.to_uppercase(), self.path),
        }
    }

    /// Parameters of the path item and the operation, refs resolved.
    pub fn parameters<'d>(&'d self, doc: &'d Value) -> Vec<&'d Value> {
        let shared = self.item.get("parameters").and_then(Value::as_array);
        let own = self.op.get("parameters").and_then(Value::as_array);
        shared
            .into_iter()
            .chain(own)
            .flatten()
            .map(|p| resolve(doc, p))
            .collect()
    }

    /// The JSON request body schema, refs resolved.
    pub fn request_schema<'d>(&'d self, doc: &'d Value) -> Option<&'d Value> {
        let body = resolve(doc, self.op.get("requestBody")?);
        let schema = body.pointer("/content/application~1json/schema")?;
        Some(resolve(doc, schema))
    }

    /// The JSON schema of the first 2xx response that has one, refs resolved.
    pub fn success_schema<'d>(&'d self, doc: &'d Value) -> Option<&'d Value> {
        let responses = self.op.get("responses")?.as_object()?;
        responses
            .iter()
            .filter(|(status, _)| status.starts_with('2'))
            .find_map(|(_, response)| {
                let response = resolve(doc, response);
                let schema = response.pointer("/content/application~1json/schema")?;
                Some(resolve(doc, schema))
            })
    }
}

/// The properties of an object schema, merging `allOf` members.
pub fn properties<'a>(doc: &'a Value, schema: &'a Value) -> Vec<(&'a str, &'a Value)> {
    let schema = resolve(doc, schema);
    let mut out = Vec::new();
    if let Some(members) = schema.get("allOf").and_then(Value::as_array) {
        for member in members {
            out.extend(properties(doc, member));
        }
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        out.extend(props.iter().map(|(k, v)| (k.as_str(), v)));
    }
    out
}
