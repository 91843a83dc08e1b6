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

/// `$ref` chains longer than this are treated as cycles and left unresolved.
const MAX_REF_HOPS: usize = 32;

/// `allOf` members nested deeper than this are not merged: a deeper chain is
/// a cycle, and following it would never end.
const MAX_ALL_OF_DEPTH: usize = 32;

/// `kalshi-openapi/openapi.yaml` under `root`.
pub fn spec_path(root: &Path) -> PathBuf {
    root.join("kalshi-openapi").join("openapi.yaml")
}

/// Parses YAML (or JSON) text into a JSON tree.
pub fn parse(text: &str) -> Result<Value, String> {
    serde_saphyr::from_str(text).map_err(|e| format!("the spec is not valid YAML: {e}"))
}

/// Lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Follows local `$ref`s (`#/components/...`) until a node that is not one;
/// a reference that does not resolve is returned as is, so the caller still
/// sees its name.
pub fn resolve<'a>(doc: &'a Value, node: &'a Value) -> &'a Value {
    let mut node = node;
    for _ in 0..MAX_REF_HOPS {
        match node
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|reference| lookup(doc, reference))
        {
            Some(target) => node = target,
            None => break,
        }
    }
    node
}

/// The node a `#/a/b/c` JSON pointer names, if any.
pub fn lookup<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    doc.pointer(reference.strip_prefix('#')?)
}

/// The last segment of a `$ref`: the component's name, which is also the
/// name of the generated Rust type.
pub fn ref_name(node: &Value) -> Option<&str> {
    node.get("$ref")?.as_str()?.rsplit('/').next()
}

/// The schema of the `content` map of a request body, response or
/// parameter, preferring JSON since that is what the SDK sends, else the
/// first media type. The schema is returned as written: a `$ref` is kept so
/// the caller can still name the component.
pub fn content_schema(holder: &Value) -> Option<&Value> {
    let content = holder.get("content")?;
    let media = match content.get("application/json") {
        Some(json) => json,
        None => content.as_object()?.values().next()?,
    };
    media.get("schema")
}

/// One operation of the spec with where it lives.
pub struct Operation<'a> {
    /// The path template, e.g. `/portfolio/orders/{order_id}`.
    pub path: &'a str,
    /// Uppercase HTTP method, as the inventory and the spec diff print it.
    pub method: String,
    /// The operation object.
    pub op: &'a Value,
    /// The path item, refs resolved; it may carry shared parameters.
    pub item: &'a Value,
}

/// Every operation in document order; a path item given as a `$ref` is
/// followed.
pub fn operations(doc: &Value) -> Vec<Operation<'_>> {
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (path, item) in paths {
        let item = resolve(doc, item);
        for method in METHODS {
            if let Some(op) = item.get(method).filter(|op| op.is_object()) {
                out.push(Operation {
                    path,
                    method: method.to_uppercase(),
                    op,
                    item,
                });
            }
        }
    }
    out
}

impl<'a> Operation<'a> {
    /// The operationId, or `METHOD path` when the spec gives none.
    pub fn id(&self) -> String {
        match self.op.get("operationId").and_then(Value::as_str) {
            Some(id) => id.to_owned(),
            None => self.route(),
        }
    }

    /// `METHOD path`.
    pub fn route(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// Parameters of the path item, then those of the operation, refs
    /// resolved. A path-level parameter that the operation declares again
    /// (same name and location) is left out: as OpenAPI specifies, the
    /// operation's own overrides it.
    pub fn parameters(&self, doc: &'a Value) -> Vec<&'a Value> {
        let list = |holder: &'a Value| {
            let params = holder.get("parameters").and_then(Value::as_array);
            params
                .into_iter()
                .flatten()
                .map(|p| resolve(doc, p))
                .collect::<Vec<_>>()
        };
        let own = list(self.op);
        let key = |p: &'a Value| (p.get("name"), p.get("in"));
        let mut out: Vec<&Value> = list(self.item)
            .into_iter()
            .filter(|shared| own.iter().all(|o| key(o) != key(shared)))
            .collect();
        out.extend(own);
        out
    }

    /// The request body object, refs resolved.
    pub fn request_body(&self, doc: &'a Value) -> Option<&'a Value> {
        Some(resolve(doc, self.op.get("requestBody")?))
    }

    /// The request body schema as written (see [`content_schema`]).
    pub fn request_schema(&self, doc: &'a Value) -> Option<&'a Value> {
        content_schema(self.request_body(doc)?)
    }

    /// The schema, as written, of the lowest 2xx response that has a body:
    /// the one the generated client deserializes.
    pub fn success_schema(&self, doc: &'a Value) -> Option<&'a Value> {
        let responses = self.op.get("responses")?.as_object()?;
        let mut codes: Vec<&String> = responses.keys().filter(|k| k.starts_with('2')).collect();
        codes.sort();
        codes
            .into_iter()
            .find_map(|code| content_schema(resolve(doc, &responses[code.as_str()])))
    }
}

/// A schema and its `allOf` members, members first, refs resolved; members
/// nested more than `depth` levels down are not followed.
pub fn all_of<'a>(doc: &'a Value, schema: &'a Value, depth: usize) -> Vec<&'a Value> {
    let schema = resolve(doc, schema);
    let mut out = Vec::new();
    if depth > 0 {
        let members = schema.get("allOf").and_then(Value::as_array);
        for member in members.into_iter().flatten() {
            out.extend(all_of(doc, member, depth - 1));
        }
    }
    out.push(schema);
    out
}

/// The properties of an object schema, merging `allOf` members.
pub fn properties<'a>(doc: &'a Value, schema: &'a Value) -> Vec<(&'a str, &'a Value)> {
    all_of(doc, schema, MAX_ALL_OF_DEPTH)
        .into_iter()
        .filter_map(|part| part.get("properties").and_then(Value::as_object))
        .flatten()
        .map(|(name, prop)| (name.as_str(), prop))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r##"
paths:
  /a/{id}:
    $ref: '#/components/pathItems/A'
components:
  pathItems:
    A:
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
        - {name: limit, in: query, schema: {type: string}}
      get:
        parameters:
          - {name: limit, in: query, schema: {type: integer}}
        requestBody:
          content:
            text/plain: {schema: {$ref: '#/components/schemas/Body'}}
        responses:
          '299': {$ref: '#/components/responses/Created'}
          '204': {description: no body}
          '250': {content: {text/csv: {schema: {type: string}}}}
  responses:
    Created: {content: {application/json: {schema: {$ref: '#/components/schemas/Body'}}}}
  schemas:
    Base: {properties: {a: {type: string}}}
    Body: {allOf: [{$ref: '#/components/schemas/Base'}], properties: {b: {type: string}}}
"##;

    #[test]
    fn operations_parameters_and_schemas() {
        let doc = parse(DOC).expect("parses");
        let ops = operations(&doc);
        let [op] = ops.as_slice() else {
            panic!("one operation through the path-item $ref");
        };
        assert_eq!(
            (op.id(), op.route()),
            ("GET /a/{id}".into(), "GET /a/{id}".into())
        );
        let params: Vec<_> = op
            .parameters(&doc)
            .iter()
            .map(|p| p["schema"]["type"].clone())
            .collect();
        assert_eq!(
            params,
            ["string", "integer"],
            "the operation's `limit` overrides the path's"
        );
        let body = op.request_schema(&doc).expect("a text/plain body");
        assert_eq!(ref_name(body), Some("Body"));
        let names: Vec<_> = properties(&doc, body).iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["a", "b"], "`allOf` members first");
        let success = op.success_schema(&doc).expect("a 2xx with a body");
        assert_eq!(
            success["type"], "string",
            "the lowest 2xx with a body is 250"
        );
    }
}
