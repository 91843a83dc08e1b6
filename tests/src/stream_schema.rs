//! Validates WebSocket frames against the JSON schemas of Kalshi's AsyncAPI
//! document with the `jsonschema` crate: a validator independent of the
//! generated types, as Prism is for REST.
//!
//! Which schema a frame must follow comes from the document too: every
//! payload schema whose `type` (server messages) or `cmd` (commands)
//! property is a `const` is a candidate for frames with that value, and a
//! frame is valid when it satisfies one of its candidates.

use std::collections::BTreeMap;

use jsonschema::{Draft, Registry, Validator};
use serde_json::{Value, json};

/// Any absolute URI names the document; nothing is fetched.
const BASE: &str = "https://kalshi.invalid/asyncapi.json";

/// The validators of every message the document defines.
pub struct FrameValidator {
    /// `type` const -> (schema name, validator).
    server: BTreeMap<String, Vec<(String, Validator)>>,
    /// `cmd` const -> (schema name, validator).
    client: BTreeMap<String, Vec<(String, Validator)>>,
}

impl FrameValidator {
    /// Reads the vendored event-contract document.
    pub fn new() -> Self {
        Self::for_document(kalshi_openapi::asyncapi::YAML)
    }

    /// Reads the vendored margin (perpetuals) document.
    pub fn margin() -> Self {
        Self::for_document(kalshi_openapi::margin::asyncapi::YAML)
    }

    fn for_document(yaml: &str) -> Self {
        let document: Value =
            serde_saphyr::from_str(yaml).expect("the vendored AsyncAPI document is YAML");
        let registry = Registry::new()
            .draft(Draft::Draft7)
            .add(BASE, Draft::Draft7.create_resource(document.clone()))
            .expect("the document is a schema resource")
            .prepare()
            .expect("the document's references resolve");
        let mut server: BTreeMap<String, Vec<(String, Validator)>> = BTreeMap::new();
        let mut client: BTreeMap<String, Vec<(String, Validator)>> = BTreeMap::new();
        let schemas = document["components"]["schemas"]
            .as_object()
            .expect("components.schemas");
        for (name, schema) in schemas {
            let key = |field: &str| {
                schema["properties"][field]["const"]
                    .as_str()
                    .map(str::to_owned)
            };
            let (map, value) = match (key("type"), key("cmd")) {
                (Some(kind), _) => (&mut server, kind),
                (None, Some(cmd)) => (&mut client, cmd),
                (None, None) => continue,
            };
            let validator = jsonschema::options()
                .with_draft(Draft::Draft7)
                .with_registry(&registry)
                .should_validate_formats(true)
                .with_format("uuid", |s| uuid::Uuid::parse_str(s).is_ok())
                .build(&json!({ "$ref": format!("{BASE}#/components/schemas/{name}") }))
                .unwrap_or_else(|e| panic!("schema {name}: {e}"));
            map.entry(value)
                .or_default()
                .push((name.clone(), validator));
        }
        Self { server, client }
    }

    /// The `type` values of server messages the document defines.
    pub fn server_types(&self) -> impl Iterator<Item = &str> {
        self.server.keys().map(String::as_str)
    }

    /// Checks a frame the server sent.
    pub fn server_frame(&self, text: &str) -> Result<(), String> {
        check(&self.server, "type", text)
    }

    /// Checks a frame the client sent.
    pub fn client_frame(&self, text: &str) -> Result<(), String> {
        check(&self.client, "cmd", text)
    }
}

impl Default for FrameValidator {
    fn default() -> Self {
        Self::new()
    }
}

fn check(
    map: &BTreeMap<String, Vec<(String, Validator)>>,
    field: &str,
    text: &str,
) -> Result<(), String> {
    let frame: Value = serde_json::from_str(text).map_err(|e| format!("not JSON ({e}): {text}"))?;
    let value = frame[field]
        .as_str()
        .ok_or_else(|| format!("no `{field}`: {text}"))?;
    let candidates = map
        .get(value)
        .ok_or_else(|| format!("the document has no message with {field} {value:?}: {text}"))?;
    let mut failures = Vec::new();
    for (name, validator) in candidates {
        let errors: Vec<String> = validator
            .iter_errors(&frame)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        if errors.is_empty() {
            return Ok(());
        }
        failures.push(format!("{name}: {}", errors.join("; ")));
    }
    Err(format!("{text}\n  {}", failures.join("\n  ")))
}
