//! A readable report of what a bump of the vendored OpenAPI document changes.
//!
//! `cargo xtask fetch-spec` prints it so a maintainer sees, before
//! regenerating, which operations, parameters, fields and enum values moved.
//! The documents are handled as plain `serde_json::Value`s rather than through
//! an OpenAPI model crate: a diff must still work on a document that such a
//! crate would reject, and it only needs a handful of keys.
//!
//! Kalshi moves inputs between the query string and the JSON body from one
//! version to the next (`subaccount`, `exchange_index`, `market_ticker`), so a
//! parameter that disappears from the query while a body property of the same
//! name appears is reported as one breaking *move*, not as an unrelated
//! removal and addition.

use crate::spec::{self, Operation};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Inline objects nested deeper than this are not flattened any further.
const MAX_DEPTH: usize = 8;

/// The part of the API a change belongs to; the report groups by it, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Section {
    Operations,
    Parameters,
    RequestBodies,
    Responses,
    Channels,
    Messages,
    Schemas,
}

impl Section {
    fn title(self) -> &'static str {
        match self {
            Section::Operations => "Operations",
            Section::Parameters => "Parameters",
            Section::RequestBodies => "Request bodies",
            Section::Responses => "Responses",
            Section::Channels => "Channels (AsyncAPI)",
            Section::Messages => "Messages (AsyncAPI)",
            Section::Schemas => "Component schemas",
        }
    }
}

/// What happened; the tests match on it, the report prints `text` instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Added,
    Removed,
    TypeChanged,
    Moved,
    RequiredChanged,
    EnumAdded,
    EnumRemoved,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Change {
    section: Section,
    /// The operationId (with method and path in the operations section) or schema name.
    subject: String,
    text: String,
    kind: Kind,
    breaking: bool,
}

impl Change {
    /// The mark that starts the line, so `grep BREAKING` finds what needs care.
    fn marker(&self) -> &'static str {
        match (self.breaking, self.kind) {
            (true, _) => "BREAKING",
            (false, Kind::Added | Kind::EnumAdded) => "added",
            (false, _) => "changed",
        }
    }
}

/// What changed between two OpenAPI documents, sorted so that two runs on the
/// same input print the same text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    changes: Vec<Change>,
}

impl Report {
    /// Whether a change can break code built on the old document: any
    /// removal (a response status included, unless it was a 5xx or
    /// `default`), type change, move between query and body, request input
    /// that became required, or response field that may now be absent.
    pub fn is_breaking(&self) -> bool {
        self.changes.iter().any(|c| c.breaking)
    }

    /// Whether the two documents agree on everything this report looks at.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    fn breaking_count(&self) -> usize {
        self.changes.iter().filter(|c| c.breaking).count()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return writeln!(
                f,
                "No changes to operations, parameters, request/response fields, schemas or enums."
            );
        }
        writeln!(
            f,
            "{} change(s), {} breaking",
            self.changes.len(),
            self.breaking_count()
        )?;
        let mut section = None;
        for change in &self.changes {
            if section != Some(change.section) {
                section = Some(change.section);
                writeln!(f, "\n{}:", change.section.title())?;
            }
            writeln!(
                f,
                "  {:<8}  {}: {}",
                change.marker(),
                change.subject,
                change.text
            )?;
        }
        Ok(())
    }
}

/// Compares two OpenAPI 3.0 documents already parsed into JSON values.
pub fn diff(old: &Value, new: &Value) -> Report {
    let mut differ = Differ {
        old,
        new,
        changes: Vec::new(),
        usage: BTreeMap::new(),
    };
    differ.operations();
    differ.channels();
    differ.messages();
    differ.schemas();
    let mut changes = differ.changes;
    changes.sort();
    changes.dedup();
    Report { changes }
}

/// Parses two YAML (or JSON) documents and compares them; the error names
/// the side that failed so the maintainer knows which file to look at.
pub fn diff_yaml(old: &str, new: &str) -> Result<Report, String> {
    let old: Value =
        serde_saphyr::from_str(old).map_err(|e| format!("the old spec does not parse: {e}"))?;
    let new: Value =
        serde_saphyr::from_str(new).map_err(|e| format!("the new spec does not parse: {e}"))?;
    Ok(diff(&old, &new))
}

// ---------------------------------------------------------------------------
// Reading the document
// ---------------------------------------------------------------------------

/// A short description of a schema's type: `integer(int64)`, a component
/// name, `array of X`, `map of X`. Deliberately ignores descriptions,
/// defaults and bounds, which do not change the generated Rust types.
fn type_name(schema: &Value) -> String {
    if let Some(name) = spec::ref_name(schema) {
        return name.to_string();
    }
    for (key, sep) in [("allOf", " & "), ("oneOf", " | "), ("anyOf", " | ")] {
        if let Some(parts) = schema.get(key).and_then(Value::as_array) {
            let names: Vec<String> = parts.iter().map(type_name).collect();
            if key == "allOf" && names.len() == 1 {
                // `allOf: [$ref]` is how 3.0 attaches a description or
                // `nullable` to a reference; the type is the reference.
                return names.join("");
            }
            return format!("{key}({})", names.join(sep));
        }
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("array") => {
            let items = schema.get("items").map_or_else(|| "any".into(), type_name);
            format!("array of {items}")
        }
        Some("object") | None if schema.get("properties").is_some() => "object".into(),
        Some("object") => match schema.get("additionalProperties") {
            Some(inner @ Value::Object(_)) => format!("map of {}", type_name(inner)),
            _ => "object".into(),
        },
        Some(ty) => match schema.get("format").and_then(Value::as_str) {
            Some(format) => format!("{ty}({format})"),
            None => ty.to_string(),
        },
        None => "any".into(),
    }
}

/// The inline `enum` of a schema; enums behind a `$ref` are reported once,
/// under their component schema.
fn enum_values(schema: &Value) -> Option<BTreeSet<String>> {
    let values = schema.get("enum")?.as_array()?;
    Some(
        values
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
    )
}

/// One property of an object schema, reduced to what changes generated code.
#[derive(Debug, Clone)]
struct Field {
    ty: String,
    required: bool,
    enum_values: Option<BTreeSet<String>>,
}

/// The properties of an object schema by name, `allOf` members merged, inline
/// nested objects flattened as `a.b` and inline array items as `a[].b`.
fn fields(doc: &Value, schema: &Value) -> BTreeMap<String, Field> {
    let mut out = BTreeMap::new();
    collect_fields(doc, schema, "", 0, &mut out);
    out
}

fn collect_fields(
    doc: &Value,
    schema: &Value,
    prefix: &str,
    depth: usize,
    out: &mut BTreeMap<String, Field>,
) {
    let mut props = BTreeMap::new();
    let mut required = BTreeSet::new();
    object_parts(doc, schema, depth, &mut props, &mut required);
    for (name, prop) in props {
        let path = format!("{prefix}{name}");
        out.insert(
            path.clone(),
            Field {
                ty: type_name(prop),
                required: required.contains(name),
                enum_values: enum_values(prop),
            },
        );
        if depth < MAX_DEPTH {
            flatten_inline(doc, prop, &path, depth + 1, out);
        }
    }
}

/// Gathers `properties` and `required` of a schema and of its `allOf`
/// members; a `required` list in one member may name a property of another.
fn object_parts<'a>(
    doc: &'a Value,
    schema: &'a Value,
    depth: usize,
    props: &mut BTreeMap<&'a str, &'a Value>,
    required: &mut BTreeSet<&'a str>,
) {
    for part in spec::all_of(doc, schema, MAX_DEPTH.saturating_sub(depth)) {
        if let Some(own) = part.get("properties").and_then(Value::as_object) {
            props.extend(own.iter().map(|(k, v)| (k.as_str(), v)));
        }
        let names = part.get("required").and_then(Value::as_array);
        required.extend(names.into_iter().flatten().filter_map(Value::as_str));
    }
}

/// Descends into inline objects only: a `$ref` is a component schema, whose
/// own changes are reported once under its name.
fn flatten_inline(
    doc: &Value,
    prop: &Value,
    path: &str,
    depth: usize,
    out: &mut BTreeMap<String, Field>,
) {
    let is_inline_object = |s: &Value| s.get("$ref").is_none() && s.get("properties").is_some();
    if is_inline_object(prop) {
        collect_fields(doc, prop, &format!("{path}."), depth, out);
    } else if let Some(items) = prop.get("items").filter(|i| is_inline_object(i)) {
        collect_fields(doc, items, &format!("{path}[]."), depth, out);
    }
}

/// Every operation of a document by operationId (or `METHOD path` when it has none).
fn operations_by_id(doc: &Value) -> BTreeMap<String, Operation<'_>> {
    spec::operations(doc)
        .into_iter()
        .map(|op| (op.id(), op))
        .collect()
}

/// One parameter reduced to what changes generated code.
#[derive(Debug, Clone)]
struct Param {
    location: String,
    required: bool,
    ty: String,
    enum_values: Option<BTreeSet<String>>,
}

/// The parameters of an operation by name, path-level ones overridden by
/// the operation's own (see [`Operation::parameters`]).
fn params<'a>(doc: &'a Value, op: &Operation<'a>) -> BTreeMap<String, Param> {
    let mut out = BTreeMap::new();
    for param in op.parameters(doc) {
        let Some(name) = param.get("name").and_then(Value::as_str) else {
            continue;
        };
        let schema = param
            .get("schema")
            .or_else(|| spec::content_schema(param))
            .unwrap_or(&Value::Null);
        let location = param.get("in").and_then(Value::as_str).unwrap_or("query");
        out.insert(
            name.to_string(),
            Param {
                location: location.to_string(),
                required: param.get("required").and_then(Value::as_bool) == Some(true),
                ty: type_name(schema),
                enum_values: enum_values(schema),
            },
        );
    }
    out
}

/// The request body schema and whether the body is required.
fn body_schema<'a>(doc: &'a Value, op: &Operation<'a>) -> Option<(&'a Value, bool)> {
    let body = op.request_body(doc)?;
    let schema = spec::content_schema(body)?;
    let required = body.get("required").and_then(Value::as_bool) == Some(true);
    Some((schema, required))
}

/// The named schemas of `components/schemas`.
fn component_schemas(doc: &Value) -> BTreeMap<&str, &Value> {
    let map = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object);
    map.into_iter()
        .flatten()
        .map(|(k, v)| (k.as_str(), v))
        .collect()
}

/// AsyncAPI: each channel's message names.
fn channel_messages(doc: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let channels = doc.get("channels").and_then(Value::as_object);
    channels
        .into_iter()
        .flatten()
        .map(|(name, channel)| {
            let messages = channel.get("messages").and_then(Value::as_object);
            let names = messages
                .into_iter()
                .flatten()
                .map(|(m, _)| m.clone())
                .collect();
            (name.clone(), names)
        })
        .collect()
}

/// AsyncAPI: each component message's payload, as a type name.
fn message_payloads(doc: &Value) -> BTreeMap<String, String> {
    let messages = doc
        .pointer("/components/messages")
        .and_then(Value::as_object);
    messages
        .into_iter()
        .flatten()
        .map(|(name, message)| {
            let payload = message
                .get("payload")
                .map_or_else(|| "none".into(), type_name);
            (name.clone(), payload)
        })
        .collect()
}

/// Top-level body property names; only these can be a moved query parameter.
fn top_level(fields: &BTreeMap<String, Field>) -> BTreeSet<&str> {
    fields
        .keys()
        .filter(|k| !k.contains('.'))
        .map(String::as_str)
        .collect()
}

// ---------------------------------------------------------------------------
// Comparing
// ---------------------------------------------------------------------------

/// Which side of the wire a set of fields is on; it decides which required-ness
/// changes break callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Sent by the SDK: a field that becomes required breaks callers.
    Request,
    /// Received by the SDK: a field that may now be absent breaks callers.
    Response,
    /// A component schema used both ways (or not at all): the generated
    /// field type switches between `T` and `Option<T>` either way.
    Both,
}

/// Where a component schema is used, directly or through other schemas.
#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    request: bool,
    response: bool,
}

impl Usage {
    fn role(self) -> Role {
        match (self.request, self.response) {
            (true, false) => Role::Request,
            (false, true) => Role::Response,
            _ => Role::Both,
        }
    }
}

/// For every component schema, whether a request (parameters, body) or a
/// response of some operation reaches it, following `$ref`s transitively.
/// In an AsyncAPI document, what the server receives (commands) is the
/// request side and what it sends is the response side.
fn schema_usage(doc: &Value) -> BTreeMap<String, Usage> {
    let mut usage: BTreeMap<String, Usage> = BTreeMap::new();
    let async_operations = doc.get("operations").and_then(Value::as_object);
    for operation in async_operations.into_iter().flat_map(|o| o.values()) {
        let mut reached = BTreeSet::new();
        reachable_schemas(doc, &operation["messages"], &mut reached);
        let received = operation["action"] == "receive";
        for name in reached {
            let entry = usage.entry(name).or_default();
            if received {
                entry.request = true;
            } else {
                entry.response = true;
            }
        }
    }
    for op in spec::operations(doc) {
        let mut request = BTreeSet::new();
        for param in op.parameters(doc) {
            reachable_schemas(doc, param, &mut request);
        }
        if let Some(body) = op.request_body(doc) {
            reachable_schemas(doc, body, &mut request);
        }
        let mut response = BTreeSet::new();
        let responses = op.op.get("responses").and_then(Value::as_object);
        for answer in responses.into_iter().flat_map(|r| r.values()) {
            reachable_schemas(doc, answer, &mut response);
        }
        for name in request {
            usage.entry(name).or_default().request = true;
        }
        for name in response {
            usage.entry(name).or_default().response = true;
        }
    }
    usage
}

/// Adds every component schema `node` refers to, transitively, to `seen`;
/// other components (responses, parameters, request bodies) are followed.
fn reachable_schemas(doc: &Value, node: &Value, seen: &mut BTreeSet<String>) {
    match node {
        Value::Object(map) => {
            if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
                let is_schema = reference.starts_with("#/components/schemas/");
                let name = reference.rsplit('/').next().unwrap_or_default();
                if is_schema && !seen.insert(name.to_owned()) {
                    return;
                }
                if let Some(target) = spec::lookup(doc, reference) {
                    reachable_schemas(doc, target, seen);
                }
            }
            for value in map.values() {
                reachable_schemas(doc, value, seen);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| reachable_schemas(doc, v, seen)),
        _ => {}
    }
}

/// The response statuses an operation declares (`200`, `404`, `default`).
fn statuses(op: &Operation<'_>) -> BTreeSet<String> {
    let responses = op.op.get("responses").and_then(Value::as_object);
    responses
        .into_iter()
        .flatten()
        .map(|(k, _)| k.clone())
        .collect()
}

struct Differ<'a> {
    old: &'a Value,
    new: &'a Value,
    changes: Vec<Change>,
    /// Which side of the wire each component schema travels, in either document.
    usage: BTreeMap<String, Usage>,
}

impl Differ<'_> {
    fn push(&mut self, section: Section, subject: &str, kind: Kind, breaking: bool, text: String) {
        self.changes.push(Change {
            section,
            subject: subject.to_string(),
            text,
            kind,
            breaking,
        });
    }

    fn operations(&mut self) {
        let old_ops = operations_by_id(self.old);
        let new_ops = operations_by_id(self.new);
        for (id, op) in &old_ops {
            if !new_ops.contains_key(id) {
                let subject = format!("{id} ({})", op.route());
                self.push(
                    Section::Operations,
                    &subject,
                    Kind::Removed,
                    true,
                    "operation removed".into(),
                );
            }
        }
        for (id, new_op) in &new_ops {
            match old_ops.get(id) {
                None => {
                    let subject = format!("{id} ({})", new_op.route());
                    self.push(
                        Section::Operations,
                        &subject,
                        Kind::Added,
                        false,
                        "operation added".into(),
                    );
                }
                Some(old_op) => self.operation(id, old_op, new_op),
            }
        }
    }

    fn operation(&mut self, id: &str, old: &Operation<'_>, new: &Operation<'_>) {
        if old.route() != new.route() {
            let subject = format!("{id} ({})", new.route());
            let text = format!("operation moved from {}", old.route());
            self.push(Section::Operations, &subject, Kind::Moved, true, text);
        }
        let old_body = body_schema(self.old, old);
        let new_body = body_schema(self.new, new);
        let old_fields = old_body
            .map(|(s, _)| fields(self.old, s))
            .unwrap_or_default();
        let new_fields = new_body
            .map(|(s, _)| fields(self.new, s))
            .unwrap_or_default();
        let moved = self.parameters(id, old, new, &old_fields, &new_fields);
        self.request_body(id, old_body, new_body);
        let mut body_fields = FieldDiff {
            section: Section::RequestBodies,
            subject: id,
            role: Role::Request,
            noun: "request field",
            skip: &moved,
        };
        body_fields.run(self, &old_fields, &new_fields);
        self.response(id, old, new);
    }

    /// Compares parameters and returns the body property names that a
    /// parameter moved to or from, so the body diff does not count them again.
    fn parameters(
        &mut self,
        id: &str,
        old: &Operation<'_>,
        new: &Operation<'_>,
        old_body: &BTreeMap<String, Field>,
        new_body: &BTreeMap<String, Field>,
    ) -> BTreeSet<String> {
        let (old_params, new_params) = (params(self.old, old), params(self.new, new));
        let (old_body, new_body) = (top_level(old_body), top_level(new_body));
        let mut moved = BTreeSet::new();
        let section = Section::Parameters;
        for (name, p) in &old_params {
            if new_params.contains_key(name) {
                continue;
            }
            let loc = &p.location;
            if new_body.contains(name.as_str()) && !old_body.contains(name.as_str()) {
                moved.insert(name.clone());
                let text = format!("parameter `{name}` moved from {loc} to request body");
                self.push(section, id, Kind::Moved, true, text);
            } else {
                let text = format!("{loc} parameter `{name}` removed ({})", p.ty);
                self.push(section, id, Kind::Removed, true, text);
            }
        }
        for (name, p) in &new_params {
            let loc = &p.location;
            let Some(before) = old_params.get(name) else {
                if old_body.contains(name.as_str()) && !new_body.contains(name.as_str()) {
                    moved.insert(name.clone());
                    let text = format!("request body field `{name}` moved to {loc} parameter");
                    self.push(section, id, Kind::Moved, true, text);
                } else {
                    let text = format!(
                        "{loc} parameter `{name}` added ({}{}, {})",
                        p.ty,
                        enum_suffix(p.enum_values.as_ref()),
                        required_word(p.required)
                    );
                    self.push(section, id, Kind::Added, p.required, text);
                }
                continue;
            };
            self.parameter(id, name, before, p);
        }
        moved
    }

    fn parameter(&mut self, id: &str, name: &str, old: &Param, new: &Param) {
        let section = Section::Parameters;
        let what = format!("{} parameter `{name}`", new.location);
        if old.location != new.location {
            let text = format!(
                "parameter `{name}` moved from {} to {}",
                old.location, new.location
            );
            self.push(section, id, Kind::Moved, true, text);
        }
        if old.ty != new.ty {
            let text = format!("{what} type changed: {} -> {}", old.ty, new.ty);
            self.push(section, id, Kind::TypeChanged, true, text);
        }
        if old.required != new.required {
            let text = format!("{what} is now {}", required_word(new.required));
            self.push(section, id, Kind::RequiredChanged, new.required, text);
        }
        self.enums(
            section,
            id,
            &what,
            old.enum_values.as_ref(),
            new.enum_values.as_ref(),
        );
    }

    fn request_body(&mut self, id: &str, old: Option<(&Value, bool)>, new: Option<(&Value, bool)>) {
        let section = Section::RequestBodies;
        match (old, new) {
            (None, None) => {}
            (Some((schema, _)), None) => {
                let text = format!("request body removed ({})", type_name(schema));
                self.push(section, id, Kind::Removed, true, text);
            }
            (None, Some((schema, required))) => {
                let text = format!(
                    "request body added ({}, {})",
                    type_name(schema),
                    required_word(required)
                );
                self.push(section, id, Kind::Added, required, text);
            }
            (Some((old_schema, old_req)), Some((new_schema, new_req))) => {
                let (old_ty, new_ty) = (type_name(old_schema), type_name(new_schema));
                if old_ty != new_ty {
                    let text = format!("request body type changed: {old_ty} -> {new_ty}");
                    self.push(section, id, Kind::TypeChanged, true, text);
                }
                if old_req != new_req {
                    let text = format!("request body is now {}", required_word(new_req));
                    self.push(section, id, Kind::RequiredChanged, new_req, text);
                }
            }
        }
    }

    fn response(&mut self, id: &str, old: &Operation<'_>, new: &Operation<'_>) {
        let section = Section::Responses;
        self.statuses(id, old, new);
        let old_schema = old.success_schema(self.old);
        let new_schema = new.success_schema(self.new);
        match (old_schema, new_schema) {
            (Some(schema), None) => {
                let text = format!("response body removed ({})", type_name(schema));
                self.push(section, id, Kind::Removed, true, text);
            }
            (None, Some(schema)) => {
                let text = format!("response body added ({})", type_name(schema));
                self.push(section, id, Kind::Added, false, text);
            }
            (Some(o), Some(n)) if type_name(o) != type_name(n) => {
                let text = format!(
                    "response type changed: {} -> {}",
                    type_name(o),
                    type_name(n)
                );
                self.push(section, id, Kind::TypeChanged, true, text);
            }
            _ => {}
        }
        let old_fields = old_schema.map(|s| fields(self.old, s)).unwrap_or_default();
        let new_fields = new_schema.map(|s| fields(self.new, s)).unwrap_or_default();
        let mut diff = FieldDiff {
            section,
            subject: id,
            role: Role::Response,
            noun: "response field",
            skip: &BTreeSet::new(),
        };
        diff.run(self, &old_fields, &new_fields);
    }

    /// Response statuses added or removed. A caller may branch on a status
    /// the spec promised (a 404 to learn an order is gone, a 409 for a
    /// reused id), so removing a 2xx or 4xx breaks it; a 5xx or `default`
    /// is never a result code is written for.
    fn statuses(&mut self, id: &str, old: &Operation<'_>, new: &Operation<'_>) {
        let (old_codes, new_codes) = (statuses(old), statuses(new));
        for code in old_codes.difference(&new_codes) {
            let handled = code.starts_with('2') || code.starts_with('4');
            let text = format!("response status `{code}` removed");
            self.push(Section::Responses, id, Kind::Removed, handled, text);
        }
        for code in new_codes.difference(&old_codes) {
            let text = format!("response status `{code}` added");
            self.push(Section::Responses, id, Kind::Added, false, text);
        }
    }

    /// AsyncAPI channels, and the messages each carries.
    fn channels(&mut self) {
        let (old, new) = (channel_messages(self.old), channel_messages(self.new));
        let section = Section::Channels;
        for (channel, messages) in &old {
            let Some(now) = new.get(channel) else {
                self.push(
                    section,
                    channel,
                    Kind::Removed,
                    true,
                    "channel removed".into(),
                );
                continue;
            };
            for message in messages.difference(now) {
                let text = format!("message `{message}` removed");
                self.push(section, channel, Kind::Removed, true, text);
            }
            for message in now.difference(messages) {
                let text = format!("message `{message}` added");
                self.push(section, channel, Kind::Added, false, text);
            }
        }
        for channel in new.keys().filter(|c| !old.contains_key(*c)) {
            self.push(section, channel, Kind::Added, false, "channel added".into());
        }
    }

    /// AsyncAPI component messages and the payload each carries.
    fn messages(&mut self) {
        let (old, new) = (message_payloads(self.old), message_payloads(self.new));
        let section = Section::Messages;
        for (name, payload) in &old {
            match new.get(name) {
                None => self.push(section, name, Kind::Removed, true, "message removed".into()),
                Some(now) if now != payload => {
                    let text = format!("payload changed: {payload} -> {now}");
                    self.push(section, name, Kind::TypeChanged, true, text);
                }
                Some(_) => {}
            }
        }
        for (name, payload) in &new {
            if !old.contains_key(name) {
                let text = format!("message added ({payload})");
                self.push(section, name, Kind::Added, false, text);
            }
        }
    }

    fn schemas(&mut self) {
        let (old, new) = (component_schemas(self.old), component_schemas(self.new));
        let mut usage = schema_usage(self.old);
        for (name, used) in schema_usage(self.new) {
            let entry = usage.entry(name).or_default();
            entry.request |= used.request;
            entry.response |= used.response;
        }
        self.usage = usage;
        let section = Section::Schemas;
        for (name, schema) in &old {
            if !new.contains_key(name) {
                let text = format!("schema removed ({})", type_name(schema));
                self.push(section, name, Kind::Removed, true, text);
            }
        }
        for (name, new_schema) in &new {
            let Some(old_schema) = old.get(name) else {
                let text = format!("schema added ({})", type_name(new_schema));
                self.push(section, name, Kind::Added, false, text);
                continue;
            };
            self.schema(name, old_schema, new_schema);
        }
    }

    fn schema(&mut self, name: &str, old: &Value, new: &Value) {
        let section = Section::Schemas;
        let (old_ty, new_ty) = (type_name(old), type_name(new));
        if old_ty != new_ty {
            let text = format!("schema type changed: {old_ty} -> {new_ty}");
            self.push(section, name, Kind::TypeChanged, true, text);
        }
        self.enums(
            section,
            name,
            "schema",
            enum_values(old).as_ref(),
            enum_values(new).as_ref(),
        );
        let (old_fields, new_fields) = (fields(self.old, old), fields(self.new, new));
        let usage = self.usage.get(name).copied().unwrap_or_default();
        let mut diff = FieldDiff {
            section,
            subject: name,
            role: usage.role(),
            noun: "property",
            skip: &BTreeSet::new(),
        };
        diff.run(self, &old_fields, &new_fields);
    }

    /// Enum values added (harmless) and removed (breaking); an enum that
    /// appears or disappears changes the generated type from or to `String`.
    fn enums(
        &mut self,
        section: Section,
        subject: &str,
        what: &str,
        old: Option<&BTreeSet<String>>,
        new: Option<&BTreeSet<String>>,
    ) {
        match (old, new) {
            (None, None) => {}
            (Some(_), None) => {
                let text = format!("{what} is no longer an enum");
                self.push(section, subject, Kind::TypeChanged, true, text);
            }
            (None, Some(values)) => {
                let text = format!("{what} is now an enum of {}", join(values.iter()));
                self.push(section, subject, Kind::TypeChanged, true, text);
            }
            (Some(old), Some(new)) => {
                for value in old.difference(new) {
                    let text = format!("{what}: enum value `{value}` removed");
                    self.push(section, subject, Kind::EnumRemoved, true, text);
                }
                for value in new.difference(old) {
                    let text = format!("{what}: enum value `{value}` added");
                    self.push(section, subject, Kind::EnumAdded, false, text);
                }
            }
        }
    }
}

/// The comparison of two field maps of one subject.
struct FieldDiff<'s> {
    section: Section,
    subject: &'s str,
    role: Role,
    /// How a field is named in the report.
    noun: &'static str,
    /// Names already reported as moved parameters.
    skip: &'s BTreeSet<String>,
}

impl FieldDiff<'_> {
    fn run(
        &mut self,
        d: &mut Differ<'_>,
        old: &BTreeMap<String, Field>,
        new: &BTreeMap<String, Field>,
    ) {
        let noun = self.noun;
        for (name, field) in old {
            if !new.contains_key(name) && !self.skip.contains(name) {
                let text = format!("{noun} `{name}` removed ({})", field.ty);
                d.push(self.section, self.subject, Kind::Removed, true, text);
            }
        }
        for (name, field) in new {
            if self.skip.contains(name) {
                continue;
            }
            match old.get(name) {
                None => {
                    let breaking = self.role == Role::Request && field.required;
                    let text = format!(
                        "{noun} `{name}` added ({}{}, {})",
                        field.ty,
                        enum_suffix(field.enum_values.as_ref()),
                        required_word(field.required)
                    );
                    d.push(self.section, self.subject, Kind::Added, breaking, text);
                }
                Some(before) => self.changed(d, name, before, field),
            }
        }
    }

    fn changed(&self, d: &mut Differ<'_>, name: &str, old: &Field, new: &Field) {
        let what = format!("{} `{name}`", self.noun);
        if old.ty != new.ty {
            let text = format!("{what} type changed: {} -> {}", old.ty, new.ty);
            d.push(self.section, self.subject, Kind::TypeChanged, true, text);
        }
        if old.required != new.required {
            let breaking = match self.role {
                Role::Request => new.required,
                Role::Response => !new.required,
                Role::Both => true,
            };
            let text = format!("{what} is now {}", required_word(new.required));
            d.push(
                self.section,
                self.subject,
                Kind::RequiredChanged,
                breaking,
                text,
            );
        }
        d.enums(
            self.section,
            self.subject,
            &what,
            old.enum_values.as_ref(),
            new.enum_values.as_ref(),
        );
    }
}

fn required_word(required: bool) -> &'static str {
    if required { "required" } else { "optional" }
}

/// ` enum of `a`, `b``, for a new input or field whose values are listed.
fn enum_suffix(values: Option<&BTreeSet<String>>) -> String {
    values.map_or_else(String::new, |v| format!(" enum of {}", join(v.iter())))
}

fn join<'a>(values: impl Iterator<Item = &'a String>) -> String {
    let quoted: Vec<String> = values.map(|v| format!("`{v}`")).collect();
    quoted.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = r##"
openapi: 3.0.0
info: {title: test, version: 1.0.0}
paths:
  /orders/{order_id}:
    parameters:
      - $ref: '#/components/parameters/OrderIdPath'
    delete:
      operationId: CancelOrder
      parameters:
        - $ref: '#/components/parameters/SubaccountQuery'
        - name: exchange_index
          in: query
          schema: {type: integer, format: int32}
      responses:
        200:
          $ref: '#/components/responses/CancelOk'
  /orders:
    post:
      operationId: CreateOrder
      parameters:
        - name: side_filter
          in: query
          schema: {type: string, enum: [buy, sell]}
        - name: legacy
          in: query
          schema: {type: boolean}
        - name: limit
          in: query
          required: false
          schema: {type: integer}
      requestBody:
        $ref: '#/components/requestBodies/CreateOrderBody'
      responses:
        '201':
          description: created
          content:
            application/json:
              schema:
                type: object
                properties:
                  order: {$ref: '#/components/schemas/Order'}
                  fee: {type: integer}
        '400':
          description: bad
  /legacy:
    get:
      operationId: GetLegacy
      responses:
        '204': {description: nothing}
components:
  parameters:
    OrderIdPath: {name: order_id, in: path, required: true, schema: {type: string}}
    SubaccountQuery: {name: subaccount, in: query, schema: {type: integer}}
  requestBodies:
    CreateOrderBody:
      required: true
      content:
        application/json:
          schema: {$ref: '#/components/schemas/CreateOrderRequest'}
  responses:
    CancelOk:
      description: ok
      content:
        application/json:
          schema: {$ref: '#/components/schemas/CancelResponse'}
  schemas:
    OrderStatus: {type: string, enum: [resting, canceled, executed]}
    Base:
      type: object
      required: [ticker]
      properties:
        ticker: {type: string}
    CreateOrderRequest:
      allOf:
        - $ref: '#/components/schemas/Base'
        - type: object
          properties:
            count: {type: integer, format: int32}
            price: {type: integer}
            tif: {type: string, enum: [gtc, ioc, fok]}
            client_order_id: {type: string}
    CancelResponse:
      type: object
      properties:
        reduced_by: {type: integer}
        order_id: {type: string}
    Order:
      type: object
      properties:
        status: {$ref: '#/components/schemas/OrderStatus'}
        yes_price: {type: integer}
        tags: {type: array, items: {type: string}}
    Legacy: {type: object}
"##;

    /// `OLD` changed in every way the report knows about.
    const NEW: &str = r##"
openapi: 3.0.0
info: {title: test, version: 2.0.0}
paths:
  /orders/{order_id}:
    parameters:
      - $ref: '#/components/parameters/OrderIdPath'
    delete:
      operationId: CancelOrder
      parameters:
        - name: exchange_index
          in: query
          schema: {type: integer, format: int64}
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                subaccount: {type: integer}
      responses:
        200:
          $ref: '#/components/responses/CancelOk'
  /orders:
    post:
      operationId: CreateOrder
      parameters:
        - name: side_filter
          in: query
          schema: {type: string, enum: [buy, both]}
        - name: max_ts
          in: query
          schema: {type: integer, format: int64}
        - name: limit
          in: query
          required: true
          schema: {type: integer}
      requestBody:
        $ref: '#/components/requestBodies/CreateOrderBody'
      responses:
        '201':
          description: created
          content:
            application/json:
              schema:
                type: object
                properties:
                  order: {$ref: '#/components/schemas/Order'}
                  fee_dollars: {type: string}
  /balance:
    get:
      operationId: GetBalance
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: {type: object, properties: {balance: {type: integer}}}
components:
  parameters:
    OrderIdPath: {name: order_id, in: path, required: true, schema: {type: string}}
  requestBodies:
    CreateOrderBody:
      required: true
      content:
        application/json:
          schema: {$ref: '#/components/schemas/CreateOrderRequest'}
  responses:
    CancelOk:
      description: ok
      content:
        application/json:
          schema: {$ref: '#/components/schemas/CancelResponse'}
  schemas:
    OrderStatus: {type: string, enum: [resting, canceled, pending]}
    Base:
      type: object
      required: [ticker]
      properties:
        ticker: {type: string}
    CreateOrderRequest:
      allOf:
        - $ref: '#/components/schemas/Base'
        - type: object
          required: [client_order_id]
          properties:
            count: {type: string}
            tif: {type: string, enum: [gtc, ioc, gtd]}
            client_order_id: {type: string}
            post_only: {type: boolean}
    CancelResponse:
      type: object
      properties:
        reduced_by: {type: integer}
    Order:
      type: object
      properties:
        status: {$ref: '#/components/schemas/OrderStatus'}
        yes_price: {$ref: '#/components/schemas/FixedPointDollars'}
        tags: {type: array, items: {type: integer}}
    FixedPointDollars: {type: string}
"##;

    fn parse(text: &str) -> Value {
        serde_saphyr::from_str(text).expect("test spec parses")
    }

    /// Asserts that one entry has this kind, subject and text, and that the
    /// printed report shows it on one line with the expected marker.
    fn assert_change(report: &Report, kind: Kind, marker: &str, subject: &str, text: &str) {
        let found = report
            .changes
            .iter()
            .any(|c| c.kind == kind && c.subject == subject && c.text == text);
        assert!(found, "no {kind:?} `{subject}: {text}` in\n{report}");
        let line = format!("{marker:<8}  {subject}: {text}");
        assert!(
            report.to_string().lines().any(|l| l.trim() == line.trim()),
            "no line `{line}` in\n{report}"
        );
    }

    fn full_report() -> Report {
        diff_yaml(OLD, NEW).expect("both sides parse")
    }

    #[test]
    fn operations_added_and_removed() {
        let report = full_report();
        assert_change(
            &report,
            Kind::Removed,
            "BREAKING",
            "GetLegacy (GET /legacy)",
            "operation removed",
        );
        assert_change(
            &report,
            Kind::Added,
            "added",
            "GetBalance (GET /balance)",
            "operation added",
        );
    }

    #[test]
    fn parameter_moved_from_query_to_body_is_one_breaking_change() {
        let report = full_report();
        let text = "parameter `subaccount` moved from query to request body";
        assert_change(&report, Kind::Moved, "BREAKING", "CancelOrder", text);
        let noise = report.changes.iter().any(|c| {
            c.subject == "CancelOrder" && c.text.contains("`subaccount`") && c.kind != Kind::Moved
        });
        assert!(
            !noise,
            "the move is also reported as a removal or addition:\n{report}"
        );
    }

    #[test]
    fn parameter_moved_from_body_to_query() {
        let report = diff_yaml(NEW, OLD).expect("both sides parse");
        let text = "request body field `subaccount` moved to query parameter";
        assert_change(&report, Kind::Moved, "BREAKING", "CancelOrder", text);
    }

    #[test]
    fn parameters_added_removed_retyped_and_required() {
        let report = full_report();
        assert_change(
            &report,
            Kind::Removed,
            "BREAKING",
            "CreateOrder",
            "query parameter `legacy` removed (boolean)",
        );
        assert_change(
            &report,
            Kind::Added,
            "added",
            "CreateOrder",
            "query parameter `max_ts` added (integer(int64), optional)",
        );
        assert_change(
            &report,
            Kind::TypeChanged,
            "BREAKING",
            "CancelOrder",
            "query parameter `exchange_index` type changed: integer(int32) -> integer(int64)",
        );
        assert_change(
            &report,
            Kind::RequiredChanged,
            "BREAKING",
            "CreateOrder",
            "query parameter `limit` is now required",
        );
    }

    #[test]
    fn parameter_enum_values() {
        let report = full_report();
        let what = "query parameter `side_filter`";
        assert_change(
            &report,
            Kind::EnumRemoved,
            "BREAKING",
            "CreateOrder",
            &format!("{what}: enum value `sell` removed"),
        );
        assert_change(
            &report,
            Kind::EnumAdded,
            "added",
            "CreateOrder",
            &format!("{what}: enum value `both` added"),
        );
    }

    #[test]
    fn request_fields_through_ref_and_all_of() {
        let report = full_report();
        let op = "CreateOrder";
        assert_change(
            &report,
            Kind::TypeChanged,
            "BREAKING",
            op,
            "request field `count` type changed: integer(int32) -> string",
        );
        assert_change(
            &report,
            Kind::Removed,
            "BREAKING",
            op,
            "request field `price` removed (integer)",
        );
        assert_change(
            &report,
            Kind::Added,
            "added",
            op,
            "request field `post_only` added (boolean, optional)",
        );
        assert_change(
            &report,
            Kind::RequiredChanged,
            "BREAKING",
            op,
            "request field `client_order_id` is now required",
        );
        assert_change(
            &report,
            Kind::EnumRemoved,
            "BREAKING",
            op,
            "request field `tif`: enum value `fok` removed",
        );
        assert_change(
            &report,
            Kind::EnumAdded,
            "added",
            op,
            "request field `tif`: enum value `gtd` added",
        );
        // `ticker` comes from the other `allOf` member and did not change.
        assert!(!report.to_string().contains("`ticker`"), "{report}");
    }

    #[test]
    fn response_fields_inline_and_through_component_response() {
        let report = full_report();
        assert_change(
            &report,
            Kind::Removed,
            "BREAKING",
            "CreateOrder",
            "response field `fee` removed (integer)",
        );
        assert_change(
            &report,
            Kind::Added,
            "added",
            "CreateOrder",
            "response field `fee_dollars` added (string, optional)",
        );
        assert_change(
            &report,
            Kind::Removed,
            "BREAKING",
            "CancelOrder",
            "response field `order_id` removed (string)",
        );
    }

    #[test]
    fn component_schemas_properties_and_enums() {
        let report = full_report();
        assert_change(
            &report,
            Kind::Removed,
            "BREAKING",
            "Legacy",
            "schema removed (object)",
        );
        assert_change(
            &report,
            Kind::Added,
            "added",
            "FixedPointDollars",
            "schema added (string)",
        );
        assert_change(
            &report,
            Kind::EnumRemoved,
            "BREAKING",
            "OrderStatus",
            "schema: enum value `executed` removed",
        );
        assert_change(
            &report,
            Kind::EnumAdded,
            "added",
            "OrderStatus",
            "schema: enum value `pending` added",
        );
        assert_change(
            &report,
            Kind::TypeChanged,
            "BREAKING",
            "Order",
            "property `yes_price` type changed: integer -> FixedPointDollars",
        );
        assert_change(
            &report,
            Kind::TypeChanged,
            "BREAKING",
            "Order",
            "property `tags` type changed: array of string -> array of integer",
        );
        assert_change(
            &report,
            Kind::Removed,
            "BREAKING",
            "CreateOrderRequest",
            "property `price` removed (integer)",
        );
    }

    #[test]
    fn full_diff_is_breaking_grouped_and_sorted() {
        let report = full_report();
        assert!(report.is_breaking());
        assert!(!report.is_empty());
        let text = report.to_string();
        let titles = [
            "Operations:",
            "Parameters:",
            "Request bodies:",
            "Responses:",
            "Component schemas:",
        ];
        let positions: Vec<usize> = titles
            .iter()
            .map(|t| text.find(t).unwrap_or_else(|| panic!("no {t} in\n{text}")))
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert_eq!(text, full_report().to_string(), "the report is not stable");
        assert!(text.starts_with(&format!("{} change(s), ", report.changes.len())));
    }

    #[test]
    fn a_spec_against_itself_is_empty() {
        let report = diff_yaml(OLD, OLD).expect("parses");
        assert!(report.is_empty(), "{report}");
        assert!(!report.is_breaking());
        assert!(report.to_string().starts_with("No changes"));
    }

    #[test]
    fn additions_only_are_not_breaking() {
        let old = parse(OLD);
        let mut new = old.clone();
        let create = &mut new["paths"]["/orders"]["post"];
        let extra_param =
            serde_json::json!({"name": "cursor", "in": "query", "schema": {"type": "string"}});
        create["parameters"]
            .as_array_mut()
            .expect("list")
            .push(extra_param);
        let fee =
            &mut create["responses"]["201"]["content"]["application/json"]["schema"]["properties"];
        fee["fee_dollars"] = serde_json::json!({"type": "string"});
        new["paths"]["/balance"] = serde_json::json!({"get": {"operationId": "GetBalance", "responses": {"204": {"description": "x"}}}});
        let schemas = &mut new["components"]["schemas"];
        schemas["OrderStatus"]["enum"]
            .as_array_mut()
            .expect("enum")
            .push("pending".into());
        schemas["CreateOrderRequest"]["allOf"][1]["properties"]["post_only"] =
            serde_json::json!({"type": "boolean"});
        schemas["FixedPointDollars"] = serde_json::json!({"type": "string"});

        let report = diff(&old, &new);
        assert!(!report.is_breaking(), "{report}");
        assert!(!report.to_string().contains("BREAKING"));
        assert_change(
            &report,
            Kind::Added,
            "added",
            "CreateOrder",
            "query parameter `cursor` added (string, optional)",
        );
        assert_change(
            &report,
            Kind::Added,
            "added",
            "CreateOrder",
            "request field `post_only` added (boolean, optional)",
        );
        assert_change(
            &report,
            Kind::EnumAdded,
            "added",
            "OrderStatus",
            "schema: enum value `pending` added",
        );
        assert_change(
            &report,
            Kind::Added,
            "added",
            "GetBalance (GET /balance)",
            "operation added",
        );
    }

    #[test]
    fn a_new_required_request_input_is_breaking() {
        let old = parse(OLD);
        let mut new = old.clone();
        let param = serde_json::json!({"name": "event", "in": "query", "required": true, "schema": {"type": "string"}});
        new["paths"]["/orders"]["post"]["parameters"]
            .as_array_mut()
            .expect("list")
            .push(param);
        let report = diff(&old, &new);
        assert!(report.is_breaking(), "{report}");
        assert_change(
            &report,
            Kind::Added,
            "BREAKING",
            "CreateOrder",
            "query parameter `event` added (string, required)",
        );
    }

    #[test]
    fn response_statuses_added_and_removed() {
        let report = full_report();
        assert_change(
            &report,
            Kind::Removed,
            "BREAKING",
            "CreateOrder",
            "response status `400` removed",
        );
        let old = parse(OLD);
        let mut new = old.clone();
        let responses = &mut new["paths"]["/orders"]["post"]["responses"];
        responses["409"] = serde_json::json!({"description": "conflict"});
        responses["500"] = serde_json::json!({"description": "server error"});
        let added = diff(&old, &new);
        assert!(!added.is_breaking(), "{added}");
        assert_change(
            &added,
            Kind::Added,
            "added",
            "CreateOrder",
            "response status `409` added",
        );
        // Removing what no caller handles is a change, not a break.
        let removed = diff(&new, &old);
        assert_change(
            &removed,
            Kind::Removed,
            "changed",
            "CreateOrder",
            "response status `500` removed",
        );
        assert_change(
            &removed,
            Kind::Removed,
            "BREAKING",
            "CreateOrder",
            "response status `409` removed",
        );
    }

    #[test]
    fn required_changes_break_by_the_side_a_schema_travels() {
        let old = parse(OLD);
        // `Base` is sent (CreateOrderRequest); `CancelResponse` is received.
        let mut looser = old.clone();
        looser["components"]["schemas"]["Base"]["required"] = serde_json::json!([]);
        looser["components"]["schemas"]["CancelResponse"]["required"] =
            serde_json::json!(["reduced_by"]);
        let report = diff(&old, &looser);
        assert!(!report.is_breaking(), "{report}");
        assert_change(
            &report,
            Kind::RequiredChanged,
            "changed",
            "Base",
            "property `ticker` is now optional",
        );
        assert_change(
            &report,
            Kind::RequiredChanged,
            "changed",
            "CancelResponse",
            "property `reduced_by` is now required",
        );
        // The other way round, both break: a sent field became required,
        // a received one may now be absent.
        let report = diff(&looser, &old);
        assert_change(
            &report,
            Kind::RequiredChanged,
            "BREAKING",
            "Base",
            "property `ticker` is now required",
        );
        assert_change(
            &report,
            Kind::RequiredChanged,
            "BREAKING",
            "CancelResponse",
            "property `reduced_by` is now optional",
        );
        // A schema used both ways (`OrderStatus` is only a type; `Order` is
        // received) keeps breaking on any change; one nobody uses is `Legacy`.
        assert_eq!(schema_usage(&old).get("Legacy").map(|u| u.role()), None);
        let usage = schema_usage(&old);
        assert_eq!(usage["Order"].role(), Role::Response);
        assert_eq!(usage["OrderStatus"].role(), Role::Response);
        assert_eq!(usage["CreateOrderRequest"].role(), Role::Request);
    }

    /// An AsyncAPI document: channels, messages and payload schemas.
    const ASYNC: &str = r##"
asyncapi: 3.0.0
info: {title: ws, version: 2.0.0}
channels:
  ticker:
    messages:
      ticker: {$ref: '#/components/messages/ticker'}
  fill:
    messages:
      fill: {$ref: '#/components/messages/fill'}
operations:
  receiveTicker:
    action: send
    messages: [{$ref: '#/channels/ticker/messages/ticker'}]
  sendSubscribe:
    action: receive
    messages: [{$ref: '#/components/messages/subscribe'}]
components:
  messages:
    ticker: {payload: {$ref: '#/components/schemas/tickerPayload'}}
    fill: {payload: {$ref: '#/components/schemas/fillPayload'}}
    subscribe: {payload: {$ref: '#/components/schemas/subscribePayload'}}
  schemas:
    tickerPayload:
      type: object
      required: [price]
      properties: {price: {type: string}, volume: {type: string}}
    fillPayload: {type: object, properties: {count: {type: string}}}
    subscribePayload:
      type: object
      properties: {channels: {type: array, items: {type: string}}}
"##;

    #[test]
    fn asyncapi_channels_messages_and_payload_fields() {
        let old = parse(ASYNC);
        let mut new = old.clone();
        new["channels"].as_object_mut().unwrap().remove("fill");
        new["channels"]["trade"] =
            serde_json::json!({"messages": {"trade": {"$ref": "#/components/messages/trade"}}});
        new["components"]["messages"]["trade"] =
            serde_json::json!({"payload": {"$ref": "#/components/schemas/fillPayload"}});
        new["channels"]["ticker"]["messages"]["ticker_v2"] =
            serde_json::json!({"$ref": "#/components/messages/ticker"});
        // Received by the client: a field that may now be absent breaks it.
        new["components"]["schemas"]["tickerPayload"]["required"] = serde_json::json!([]);
        // Sent by the client: a field that becomes required breaks it.
        new["components"]["schemas"]["subscribePayload"]["required"] =
            serde_json::json!(["channels"]);
        let report = diff(&old, &new);
        assert_change(
            &report,
            Kind::Removed,
            "BREAKING",
            "fill",
            "channel removed",
        );
        assert_change(&report, Kind::Added, "added", "trade", "channel added");
        assert_change(
            &report,
            Kind::Added,
            "added",
            "ticker",
            "message `ticker_v2` added",
        );
        assert_change(
            &report,
            Kind::Added,
            "added",
            "trade",
            "message added (fillPayload)",
        );
        assert_change(
            &report,
            Kind::RequiredChanged,
            "BREAKING",
            "tickerPayload",
            "property `price` is now optional",
        );
        assert_change(
            &report,
            Kind::RequiredChanged,
            "BREAKING",
            "subscribePayload",
            "property `channels` is now required",
        );
        let added_field = {
            let mut more = old.clone();
            more["components"]["schemas"]["tickerPayload"]["properties"]["clock"] =
                serde_json::json!({"type": "integer"});
            diff(&old, &more)
        };
        assert!(!added_field.is_breaking(), "{added_field}");
        let vendored = parse(kalshi_openapi::asyncapi::YAML);
        assert!(diff(&vendored, &vendored).is_empty());
    }

    #[test]
    fn parse_errors_name_the_side() {
        let err = diff_yaml("a: [", OLD).expect_err("old side is broken");
        assert!(err.contains("old spec"), "{err}");
        let err = diff_yaml(OLD, "a: [").expect_err("new side is broken");
        assert!(err.contains("new spec"), "{err}");
    }

    #[test]
    fn vendored_spec_against_itself_and_without_one_operation() {
        let spec = parse(kalshi_openapi::SPEC_YAML);
        assert_eq!(
            operations_by_id(&spec).len(),
            128,
            "the vendored spec has 128 operations"
        );
        let same = diff(&spec, &spec);
        assert!(same.is_empty(), "{same}");

        let mut fewer = spec.clone();
        let paths = fewer["paths"].as_object_mut().expect("paths");
        let item = paths["/portfolio/events/orders/{order_id}"]
            .as_object_mut()
            .expect("path item");
        assert_eq!(item["delete"]["operationId"], "CancelOrderV2");
        item.remove("delete");
        let report = diff(&spec, &fewer);
        assert!(report.is_breaking(), "{report}");
        assert_eq!(report.changes.len(), 1, "{report}");
        assert_change(
            &report,
            Kind::Removed,
            "BREAKING",
            "CancelOrderV2 (DELETE /portfolio/events/orders/{order_id})",
            "operation removed",
        );
    }
}
