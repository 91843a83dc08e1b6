//! The WebSocket bindings: the vendored AsyncAPI document in,
//! `kalshi-gen/src/stream_generated.rs` out.
//!
//! The message types come from the document's `components/schemas` through
//! typify, the library progenitor itself uses, with the same rules as the
//! REST bindings: money and counts are `Dollars` / `Count`, an order book
//! level is a `PriceLevel`, enums are open, unknown fields decode, every
//! struct and enum is `#[non_exhaustive]` and schemars sits behind its
//! feature. On top of them the generator writes what typify cannot: the
//! enum of every server message, decoded by its `type` (unknown types are
//! kept whole), the enum of every command, and tables of the channels and of
//! the error codes.
//!
//! The document needs fix-ups before typify sees it; like the REST spec
//! patches, each is named, counts what it changed, and fails generation when
//! it changes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use serde_json::{Map, Value, json};
use syn::LitStr;

use crate::postprocess;

/// A named edit of the document's schemas; returns how many places it changed.
struct Fixup {
    name: &'static str,
    apply: fn(&mut Map<String, Value>) -> usize,
}

/// Every fix-up of the Trade API's WebSocket document, in the order they run.
const FIXUPS: &[Fixup] = &[
    Fixup {
        name: "message_tags_are_the_enum",
        apply: message_tags_are_the_enum,
    },
    Fixup {
        name: "money_and_counts_by_server_type",
        apply: money_and_counts_by_server_type,
    },
    Fixup {
        name: "book_levels_are_price_levels",
        apply: book_levels_are_price_levels,
    },
    Fixup {
        name: "json_numbers_keep_their_text",
        apply: json_numbers_keep_their_text,
    },
    Fixup {
        name: "error_codes_are_open",
        apply: error_codes_are_open,
    },
    Fixup {
        name: "unset_command_options_are_omitted",
        apply: unset_command_options_are_omitted,
    },
];

/// A message `type` the document gives more than one payload, one of those
/// payloads, and how a received frame is recognised as it.
type Shape = (&'static str, &'static str, Rule);

/// The message `type`s the document gives more than one payload, and how a
/// received frame tells them apart. A change to the set fails generation.
const SHAPES: &[Shape] = &[
    ("ok", "listSubscriptionsResponse", Rule::MsgIsArray),
    ("ok", "subscribedIndicesResponse", Rule::MsgHas("index_ids")),
    (
        "ok",
        "subscribedUnderlyingsResponse",
        Rule::MsgHas("underlying_tickers"),
    ),
    ("ok", "okResponse", Rule::Otherwise),
    (
        "market_lifecycle_v2",
        "marketMetadataUpdated",
        Rule::MsgFieldIs("event_type", "metadata_updated"),
    ),
    ("market_lifecycle_v2", "marketLifecycleV2", Rule::Otherwise),
];

/// How one of several payloads of a `type` is recognised.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// `msg` is a JSON array.
    MsgIsArray,
    /// `msg` has this field.
    MsgHas(&'static str),
    /// `msg.<field>` is this string.
    MsgFieldIs(&'static str, &'static str),
    /// None of the others matched.
    Otherwise,
}

/// One component message with a JSON payload.
#[derive(Debug, Clone)]
struct Message {
    /// The component message's name (`orderbookSnapshot`).
    name: String,
    /// The payload schema (`orderbookSnapshotPayload`).
    schema: String,
    /// The `type` (server messages) or `cmd` (commands) the payload carries.
    tag: String,
    /// Whether the client sends it.
    command: bool,
    /// Envelope fields: (`id`, `sid`, `seq`) as (present, required).
    envelope: [(bool, bool); 3],
    /// For commands: the values `params.action` may take, if it is an enum.
    actions: Vec<String>,
}

/// A WebSocket document the workspace generates message types for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The Trade API's WebSocket API: `kalshi_gen::stream`.
    Trade,
    /// The margin (perpetuals) WebSocket API: `kalshi_gen::margin::stream`.
    Margin,
}

impl Stream {
    fn title(self) -> &'static str {
        match self {
            Stream::Trade => "Kalshi WebSocket API",
            Stream::Margin => "Kalshi margin (perpetuals) WebSocket API",
        }
    }

    fn fixups(self) -> &'static [Fixup] {
        match self {
            Stream::Trade => FIXUPS,
            Stream::Margin => MARGIN_FIXUPS,
        }
    }

    fn shapes(self) -> &'static [Shape] {
        match self {
            Stream::Trade => SHAPES,
            Stream::Margin => MARGIN_SHAPES,
        }
    }
}

/// The margin WebSocket document's fix-ups: the same rules, those that
/// apply to it.
const MARGIN_FIXUPS: &[Fixup] = &[
    Fixup {
        name: "message_tags_are_the_enum",
        apply: message_tags_are_the_enum,
    },
    Fixup {
        name: "money_and_counts_by_server_type",
        apply: money_and_counts_by_server_type,
    },
    Fixup {
        name: "book_levels_are_price_levels",
        apply: book_levels_are_price_levels,
    },
    Fixup {
        name: "json_numbers_keep_their_text",
        apply: json_numbers_keep_their_text,
    },
    Fixup {
        name: "error_codes_are_open",
        apply: error_codes_are_open,
    },
    Fixup {
        name: "unset_command_options_are_omitted",
        apply: unset_command_options_are_omitted,
    },
];

/// The margin document's message `type`s with several payloads.
const MARGIN_SHAPES: &[Shape] = &[
    ("ok", "listSubscriptionsResponse", Rule::MsgIsArray),
    ("ok", "okResponse", Rule::Otherwise),
];

/// Generates the Trade API's stream bindings for the document `yaml`; pure,
/// so tests can run it.
pub fn generate(yaml: &str) -> Result<String, String> {
    generate_stream(Stream::Trade, yaml)
}

/// Generates `stream`'s message bindings for the document `yaml`.
pub fn generate_stream(stream: Stream, yaml: &str) -> Result<String, String> {
    let sha256 = crate::spec::sha256_hex(yaml.as_bytes());
    let doc = crate::spec::parse(yaml)?;
    let version = doc["info"]["version"]
        .as_str()
        .unwrap_or("unknown")
        .to_owned();
    let messages = messages(&doc)?;
    let mut schemas = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .cloned()
        .ok_or("the AsyncAPI document has no components/schemas")?;
    let mut applied = Vec::new();
    for fixup in stream.fixups() {
        let changed = (fixup.apply)(&mut schemas);
        if changed == 0 {
            return Err(format!(
                "stream fix-up `{}` changed nothing: the document changed; update or delete it \
                 in xtask/src/asyncapi.rs",
                fixup.name
            ));
        }
        applied.push((fixup.name, changed));
    }
    let mut file = typify_types(schemas)?;
    let renamed = postprocess::rename_known_unknown(&mut file);
    let opened = postprocess::open_enums(&mut file)?;
    postprocess::schemars_behind_feature(&mut file);
    postprocess::non_exhaustive_types(&mut file)?;
    let fast = fast_decoders(&mut file, &messages)?;
    let tables = message_code(stream, &messages, &doc, &fast)?;
    file.items.extend(
        syn::parse2::<syn::File>(tables)
            .map_err(|e| format!("the message enums do not parse: {e}"))?
            .items,
    );
    postprocess::type_visitor(&mut file)?;
    let mut header = String::new();
    let _ = writeln!(
        header,
        "// @generated by `{}`. Do not edit by hand.",
        crate::regen::REGEN_COMMAND
    );
    let _ = writeln!(
        header,
        "// AsyncAPI document: {} {version}, sha256 {sha256}",
        stream.title()
    );
    let _ = writeln!(
        header,
        "// Generator: typify (as locked for progenitor), formatted with prettyplease"
    );
    for (name, changed) in &applied {
        let _ = writeln!(header, "// Fix-up: {name} ({changed} places)");
    }
    let _ = writeln!(
        header,
        "// Open string enums: {opened} ({renamed} known `unknown` values renamed)"
    );
    let _ = writeln!(header, "// Messages: {}", messages.len());
    let _ = writeln!(
        header,
        "// Fast decoders: {} message types ({})",
        fast.len(),
        fast.iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(format!("{header}{}", prettyplease::unparse(&file)))
}

// ---------------------------------------------------------------------------
// Reading the document
// ---------------------------------------------------------------------------

/// Every component message with a JSON object payload, by name.
fn messages(doc: &Value) -> Result<Vec<Message>, String> {
    let components = doc
        .pointer("/components/messages")
        .and_then(Value::as_object)
        .ok_or("the AsyncAPI document has no components/messages")?;
    let mut out = Vec::new();
    for (name, message) in components {
        let Some(schema) = crate::spec::ref_name(&message["payload"]) else {
            continue; // ping/pong control frames: no JSON payload
        };
        let payload = doc
            .pointer(&format!("/components/schemas/{schema}"))
            .ok_or_else(|| format!("message {name}: payload {schema} is not a schema"))?;
        let props = &payload["properties"];
        let (tag, command) = match (
            props["type"]["const"].as_str(),
            props["cmd"]["const"].as_str(),
        ) {
            (Some(kind), _) => (kind, false),
            (None, Some(cmd)) => (cmd, true),
            _ => {
                return Err(format!(
                    "message {name}: its payload names no `type` or `cmd`"
                ));
            }
        };
        let required: BTreeSet<&str> = payload["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let field = |f: &str| (props.get(f).is_some(), required.contains(f));
        let actions = props["params"]["properties"]["action"]["enum"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        out.push(Message {
            name: name.clone(),
            schema: schema.to_owned(),
            tag: tag.to_owned(),
            command,
            envelope: [field("id"), field("sid"), field("seq")],
            actions,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Fix-ups
// ---------------------------------------------------------------------------

/// The `type` / `cmd` discriminator is a `const` typify would turn into a
/// plain `String` field; the message enums carry it instead.
fn message_tags_are_the_enum(schemas: &mut Map<String, Value>) -> usize {
    let mut changed = 0;
    for schema in schemas.values_mut() {
        for tag in ["type", "cmd"] {
            let is_const = schema["properties"][tag].get("const").is_some();
            if !is_const {
                continue;
            }
            if let Some(props) = schema["properties"].as_object_mut() {
                props.remove(tag);
            }
            if let Some(required) = schema.get_mut("required").and_then(Value::as_array_mut) {
                required.retain(|v| v != tag);
            }
            changed += 1;
        }
    }
    changed
}

/// The document has no money component: prices and counts are plain
/// strings whose only machine-readable mark is the server type they leak
/// (`x-rust-type`). Those become the `FixedPointDollars` / `FixedPointCount`
/// placeholders that map to `Dollars` / `Count`.
fn money_and_counts_by_server_type(schemas: &mut Map<String, Value>) -> usize {
    fn walk(node: &mut Value, changed: &mut usize) {
        match node {
            Value::Object(map) => {
                let string = map.get("type") == Some(&json!("string"));
                let target = match map.get("x-rust-type").and_then(Value::as_str) {
                    Some("common::types::Price" | "common::types::Value") if string => {
                        Some("FixedPointDollars")
                    }
                    Some("common::types::Amount" | "common::types::Position" | "i64") if string => {
                        Some("FixedPointCount")
                    }
                    _ => None,
                };
                if let Some(target) = target {
                    *map = reference(target, map);
                    *changed += 1;
                    return;
                }
                map.values_mut().for_each(|v| walk(v, changed));
            }
            Value::Array(items) => items.iter_mut().for_each(|v| walk(v, changed)),
            _ => {}
        }
    }
    let mut changed = 0;
    schemas.values_mut().for_each(|s| walk(s, &mut changed));
    schemas.insert("FixedPointDollars".into(), json!({"type": "string"}));
    schemas.insert("FixedPointCount".into(), json!({"type": "string"}));
    changed
}

/// An order book level is an array of two strings, `[price, count]`:
/// `PriceLevel`, as on the REST side.
fn book_levels_are_price_levels(schemas: &mut Map<String, Value>) -> usize {
    fn walk(node: &mut Value, changed: &mut usize) {
        match node {
            Value::Object(map) => {
                let pair = map.get("type") == Some(&json!("array"))
                    && map.get("minItems") == Some(&json!(2))
                    && map.get("maxItems") == Some(&json!(2))
                    && map
                        .get("items")
                        .is_some_and(|items| items.get("type") == Some(&json!("string")));
                if pair {
                    *map = reference("PriceLevel", map);
                    *changed += 1;
                    return;
                }
                map.values_mut().for_each(|v| walk(v, changed));
            }
            Value::Array(items) => items.iter_mut().for_each(|v| walk(v, changed)),
            _ => {}
        }
    }
    let mut changed = 0;
    schemas.values_mut().for_each(|s| walk(s, &mut changed));
    schemas.insert("PriceLevel".into(), json!({"type": "array"}));
    changed
}

/// JSON numbers (strikes, a fee multiplier) stay `serde_json::Number`, so
/// `4487` is not re-read as the float `4487.0`.
fn json_numbers_keep_their_text(schemas: &mut Map<String, Value>) -> usize {
    fn walk(node: &mut Value, changed: &mut usize) {
        match node {
            Value::Object(map) => {
                match map.get("type") {
                    Some(t) if t == &json!("number") => {
                        *map = reference("JsonNumber", map);
                        *changed += 1;
                        return;
                    }
                    Some(t) if t == &json!(["number", "null"]) => {
                        let mut nullable = Map::new();
                        nullable.insert(
                            "oneOf".into(),
                            json!([{"$ref": "#/components/schemas/JsonNumber"}, {"type": "null"}]),
                        );
                        if let Some(d) = map.get("description") {
                            nullable.insert("description".into(), d.clone());
                        }
                        *map = nullable;
                        *changed += 1;
                        return;
                    }
                    _ => {}
                }
                map.values_mut().for_each(|v| walk(v, changed));
            }
            Value::Array(items) => items.iter_mut().for_each(|v| walk(v, changed)),
            _ => {}
        }
    }
    let mut changed = 0;
    schemas.values_mut().for_each(|s| walk(s, &mut changed));
    schemas.insert("JsonNumber".into(), json!({"type": "number"}));
    changed
}

/// The error `code` is an integer enum; typify makes it a closed type, so a
/// code Kalshi adds would fail the whole frame. It stays an integer; the
/// known codes are the generated `ERROR_CODES` table.
fn error_codes_are_open(schemas: &mut Map<String, Value>) -> usize {
    let code = schemas
        .get_mut("errorResponsePayload")
        .and_then(|s| s.pointer_mut("/properties/msg/properties/code"))
        .and_then(Value::as_object_mut);
    match code {
        Some(code) if code.get("type") == Some(&json!("integer")) => {
            usize::from(code.remove("enum").is_some())
        }
        _ => 0,
    }
}

/// Command options with a `default` would be typed as plain values that are
/// always sent: every subscribe would pin `use_yes_price: false` and the
/// like. Without the default they are `Option`s, left out unless set, and
/// the server applies its own default.
fn unset_command_options_are_omitted(schemas: &mut Map<String, Value>) -> usize {
    let mut changed = 0;
    for (name, schema) in schemas.iter_mut() {
        if !name.ends_with("CommandPayload") {
            continue;
        }
        let params = schema
            .pointer_mut("/properties/params/properties")
            .and_then(Value::as_object_mut);
        for property in params.into_iter().flat_map(|p| p.values_mut()) {
            let scalar = !matches!(property.get("type"), Some(t) if t == &json!("array") || t == &json!("object"));
            if let Some(map) = property.as_object_mut()
                && scalar
                && map.remove("default").is_some()
            {
                changed += 1;
            }
        }
    }
    changed
}

/// `{"$ref": target}`, keeping a description or deprecation beside it.
fn reference(target: &str, original: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert(
        "$ref".into(),
        json!(format!("#/components/schemas/{target}")),
    );
    for key in ["description", "deprecated"] {
        if let Some(value) = original.get(key) {
            out.insert(key.into(), value.clone());
        }
    }
    out
}

// ---------------------------------------------------------------------------
// typify
// ---------------------------------------------------------------------------

fn typify_types(schemas: Map<String, Value>) -> Result<syn::File, String> {
    use typify::{TypeSpace, TypeSpaceImpl, TypeSpaceSettings};
    let text = || {
        [
            TypeSpaceImpl::Display,
            TypeSpaceImpl::FromStr,
            TypeSpaceImpl::Default,
        ]
    };
    let mut settings = TypeSpaceSettings::default();
    settings
        .with_derive("PartialEq".to_owned())
        .with_derive("schemars::JsonSchema".to_owned())
        .with_replacement(
            "FixedPointDollars",
            "crate::num::Dollars",
            text().into_iter(),
        )
        .with_replacement("FixedPointCount", "crate::num::Count", text().into_iter())
        .with_replacement(
            "PriceLevel",
            "crate::num::PriceLevel",
            [TypeSpaceImpl::Display, TypeSpaceImpl::Default].into_iter(),
        )
        .with_replacement("JsonNumber", "::serde_json::Number", std::iter::empty())
        // The envelope ids are plain integers in this crate: the client
        // compares and counts them; their lower bounds are the validator's.
        .with_replacement("CommandId", "u64", std::iter::empty())
        .with_replacement("SubscriptionId", "u64", std::iter::empty())
        .with_replacement("SequenceNumber", "u64", std::iter::empty());
    let definitions = schemas
        .into_iter()
        .map(|(name, schema)| {
            serde_json::from_value::<schemars::schema::Schema>(schema)
                .map(|schema| (name.clone(), schema))
                .map_err(|e| format!("schema {name} is not a JSON schema typify reads: {e}"))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let mut space = TypeSpace::new(&settings);
    space
        .add_ref_types(definitions)
        .map_err(|e| format!("typify failed: {e}"))?;
    let tokens = space.to_stream();
    // The same module name as progenitor's, so the REST postprocess applies.
    syn::parse2(quote! { pub mod types { #tokens } })
        .map_err(|e| format!("typify output does not parse: {e}"))
}

// ---------------------------------------------------------------------------
// Message enums and tables
// ---------------------------------------------------------------------------

fn pascal(name: &str) -> proc_macro2::Ident {
    format_ident!("{}", heck::ToUpperCamelCase::to_upper_camel_case(name))
}

fn lit(text: &str) -> LitStr {
    LitStr::new(text, Span::call_site())
}

/// Writes the fast decoders (`fast_decode`) of the server messages that
/// qualify into the `types` module; returns the message `type`s that use them.
fn fast_decoders(file: &mut syn::File, messages: &[Message]) -> Result<BTreeSet<String>, String> {
    // A `type` with several payloads is told apart on a parsed value.
    let single: Vec<(&str, String)> = server_by_tag(messages)
        .into_iter()
        .filter_map(|(tag, ms)| match ms.as_slice() {
            [m] => Some((tag, pascal(&m.schema).to_string())),
            _ => None,
        })
        .collect();
    let planned = crate::fast_decode::plan(file, single.iter().map(|(_, ty)| ty.as_str()))?;
    let impls: syn::File =
        syn::parse2(planned.impls).map_err(|e| format!("the fast decoders do not parse: {e}"))?;
    postprocess::types_module(file)
        .ok_or("the generated file has no `types` module")?
        .extend(impls.items);
    Ok(single
        .into_iter()
        .filter(|(_, ty)| planned.types.contains(ty))
        .map(|(tag, _)| tag.to_owned())
        .collect())
}

fn message_code(
    stream: Stream,
    messages: &[Message],
    doc: &Value,
    fast: &BTreeSet<String>,
) -> Result<TokenStream, String> {
    let server: Vec<&Message> = messages.iter().filter(|m| !m.command).collect();
    let by_tag = server_by_tag(messages);
    check_shapes(stream.shapes(), &by_tag)?;
    let server_enum = server_enum(stream.shapes(), &server, &by_tag, fast);
    let commands = command_enum(messages)?;
    let channels = channel_table(doc, messages)?;
    let errors = error_codes(doc)?;
    Ok(quote! { #server_enum #commands #channels #errors })
}

/// The server messages by their `type` (several payloads may share one).
fn server_by_tag(messages: &[Message]) -> BTreeMap<&str, Vec<&Message>> {
    let mut by_tag: BTreeMap<&str, Vec<&Message>> = BTreeMap::new();
    for m in messages.iter().filter(|m| !m.command) {
        by_tag.entry(m.tag.as_str()).or_default().push(m);
    }
    by_tag
}

/// The shape table covers exactly the `type`s with several payloads.
fn check_shapes(shapes: &[Shape], by_tag: &BTreeMap<&str, Vec<&Message>>) -> Result<(), String> {
    let shared: BTreeSet<(&str, &str)> = by_tag
        .iter()
        .filter(|(_, ms)| ms.len() > 1)
        .flat_map(|(tag, ms)| ms.iter().map(move |m| (*tag, m.name.as_str())))
        .collect();
    let known: BTreeSet<(&str, &str)> = shapes.iter().map(|(t, m, _)| (*t, *m)).collect();
    if shared != known {
        return Err(format!(
            "message types with several payloads changed: the document has {shared:?}, \
             xtask/src/asyncapi.rs SHAPES tells apart {known:?}"
        ));
    }
    Ok(())
}

fn server_enum(
    shapes: &[Shape],
    server: &[&Message],
    by_tag: &BTreeMap<&str, Vec<&Message>>,
    fast: &BTreeSet<String>,
) -> TokenStream {
    let variants = server.iter().map(|m| {
        let (variant, ty) = (pascal(&m.name), pascal(&m.schema));
        let doc = lit(&format!(" `{}` (AsyncAPI message `{}`).", m.tag, m.name));
        quote! { #[doc = #doc] #variant(Box<types::#ty>) }
    });
    let decode_arms = by_tag.iter().map(|(tag, ms)| {
        let tag_lit = lit(tag);
        if let [m] = ms.as_slice() {
            let variant = pascal(&m.name);
            if fast.contains(*tag) {
                return quote! {
                    #tag_lit => Self::#variant(Box::new(crate::fast_json::payload(text, after, fast)?))
                };
            }
            return quote! { #tag_lit => Self::#variant(Box::new(serde_json::from_str(text)?)) };
        }
        let checks = shapes
            .iter()
            .filter(|(t, _, _)| t == tag)
            .map(|(_, name, rule)| {
                let variant = pascal(name);
                let build =
                    quote! { return Ok(Self::#variant(Box::new(serde_json::from_value(value)?))) };
                match rule {
                    Rule::MsgIsArray => quote! { if value["msg"].is_array() { #build; } },
                    Rule::MsgHas(field) => {
                        let field = lit(field);
                        quote! { if value["msg"].get(#field).is_some() { #build; } }
                    }
                    Rule::MsgFieldIs(field, is) => {
                        let (field, is) = (lit(field), lit(is));
                        quote! { if value["msg"][#field] == #is { #build; } }
                    }
                    Rule::Otherwise => quote! { #build; },
                }
            });
        quote! {
            #tag_lit => {
                let value: serde_json::Value = serde_json::from_str(text)?;
                #(#checks)*
            }
        }
    });
    let kind_arms = server.iter().map(|m| {
        let (variant, tag) = (pascal(&m.name), lit(&m.tag));
        quote! { Self::#variant(_) => #tag }
    });
    let accessor = |index: usize, name: &str| {
        let field = format_ident!("{name}");
        let arms: Vec<TokenStream> = server
            .iter()
            .map(|m| {
                let variant = pascal(&m.name);
                match m.envelope[index] {
                    (true, true) => quote! { Self::#variant(m) => Some(m.#field) },
                    (true, false) => quote! { Self::#variant(m) => m.#field },
                    (false, _) => quote! { Self::#variant(_) => None },
                }
            })
            .collect();
        let name = lit(name);
        quote! { match self { #(#arms,)* Self::Unknown(m) => m.envelope(#name) } }
    };
    let (id, sid, seq) = (accessor(0, "id"), accessor(1, "sid"), accessor(2, "seq"));
    let encode_arms = server.iter().map(|m| {
        let variant = pascal(&m.name);
        quote! { Self::#variant(m) => serde_json::to_value(m) }
    });
    let names: Vec<LitStr> = server.iter().map(|m| lit(&m.name)).collect();
    let tags: Vec<LitStr> = server.iter().map(|m| lit(&m.tag)).collect();
    quote! {
        /// A message the server sends, decoded by its `type`; a type these
        /// bindings do not know is kept whole in [`ServerMessage::Unknown`].
        ///
        /// Each message is boxed, so the enum is a few words whatever the
        /// size of Kalshi's largest message (half a kilobyte inline): a
        /// queue of events holds pointers, not the largest variant's size
        /// for every small delta.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum ServerMessage {
            #(#variants,)*
            /// A message type these bindings do not know, kept verbatim.
            Unknown(UnknownMessage),
        }

        /// A server message of a `type` these bindings do not know.
        #[derive(Debug, Clone, PartialEq)]
        pub struct UnknownMessage {
            /// Its `type`.
            pub kind: String,
            /// The whole frame, as received.
            pub raw: serde_json::Value,
        }

        impl UnknownMessage {
            fn envelope(&self, field: &str) -> Option<u64> {
                self.raw.get(field).and_then(serde_json::Value::as_u64)
            }
        }

        /// Every server message the document defines: (AsyncAPI message name, `type`).
        pub const SERVER_MESSAGES: &[(&str, &str)] = &[#((#names, #tags)),*];

        impl ServerMessage {
            /// Decodes one text frame. A frame that is not JSON, has no
            /// `type`, or whose fields do not match its type's schema is an
            /// error; a `type` these bindings do not know is
            /// [`ServerMessage::Unknown`].
            ///
            /// Flat messages (order book deltas, tickers, trades, fills and
            /// more) are decoded on a fast path that gives the same value as
            /// `serde_json`, or hands the frame to it.
            pub fn decode(text: &str) -> Result<Self, serde_json::Error> {
                Self::decode_with(text, true)
            }

            /// [`ServerMessage::decode`] with `serde_json` alone, for tests
            /// and fuzzing that compare the two paths.
            #[doc(hidden)]
            pub fn decode_without_fast_path(text: &str) -> Result<Self, serde_json::Error> {
                Self::decode_with(text, false)
            }

            #[allow(unused_variables)]
            fn decode_with(text: &str, fast: bool) -> Result<Self, serde_json::Error> {
                #[derive(serde::Deserialize)]
                struct Head<'a> {
                    #[serde(rename = "type", borrow)]
                    kind: std::borrow::Cow<'a, str>,
                }
                // Kalshi's frames start with their `type`: read it without a
                // parse of its own (half the decoding time of a small frame).
                let (kind, after) = match crate::stream::leading_type(text) {
                    Some((kind, after)) => (std::borrow::Cow::Borrowed(kind), after),
                    None => (serde_json::from_str::<Head<'_>>(text)?.kind, 0),
                };
                Ok(match &*kind {
                    #(#decode_arms,)*
                    other => Self::Unknown(UnknownMessage {
                        kind: other.to_owned(),
                        raw: serde_json::from_str(text)?,
                    }),
                })
            }

            /// The message's `type` on the wire.
            pub fn kind(&self) -> &str {
                match self {
                    #(#kind_arms,)*
                    Self::Unknown(m) => &m.kind,
                }
            }

            /// The command id it answers, when it answers one.
            pub fn id(&self) -> Option<u64> { #id }

            /// The subscription it belongs to.
            pub fn sid(&self) -> Option<u64> { #sid }

            /// Its sequence number within the subscription, on channels that number messages.
            pub fn seq(&self) -> Option<u64> { #seq }

            /// The frame as JSON, `type` included: what the server sends.
            pub fn to_json(&self) -> Result<serde_json::Value, serde_json::Error> {
                let mut value = match self {
                    #(#encode_arms,)*
                    Self::Unknown(m) => return Ok(m.raw.clone()),
                }?;
                if let Some(map) = value.as_object_mut() {
                    map.insert("type".to_owned(), serde_json::Value::String(self.kind().to_owned()));
                }
                Ok(value)
            }
        }
    }
}

fn command_enum(messages: &[Message]) -> Result<TokenStream, String> {
    // One variant per command payload schema (several messages share one).
    let mut by_schema: BTreeMap<&str, &Message> = BTreeMap::new();
    for m in messages.iter().filter(|m| m.command) {
        by_schema.entry(m.schema.as_str()).or_insert(m);
    }
    let commands: Vec<&Message> = by_schema.into_values().collect();
    let mut by_cmd: BTreeMap<&str, Vec<&Message>> = BTreeMap::new();
    for m in &commands {
        by_cmd.entry(m.tag.as_str()).or_default().push(m);
    }
    let variant_of = |m: &Message| pascal(m.schema.trim_end_matches("Payload"));
    let variants = commands.iter().map(|m| {
        let (variant, ty) = (variant_of(m), pascal(&m.schema));
        let doc = lit(&format!(" `{}` (payload `{}`).", m.tag, m.schema));
        quote! { #[doc = #doc] #variant(types::#ty) }
    });
    let mut decode_arms = Vec::new();
    for (cmd, ms) in &by_cmd {
        let cmd_lit = lit(cmd);
        if let [m] = ms.as_slice() {
            let variant = variant_of(m);
            decode_arms.push(quote! { #cmd_lit => Self::#variant(serde_json::from_str(text)?) });
            continue;
        }
        // Told apart by `params.action`, whose values each payload lists.
        let mut seen = BTreeSet::new();
        let mut checks = Vec::new();
        for m in ms {
            if m.actions.is_empty() {
                return Err(format!(
                    "command payload {} has no action enum to tell it apart",
                    m.schema
                ));
            }
            for action in &m.actions {
                if !seen.insert(action.clone()) {
                    return Err(format!("action {action} belongs to two `{cmd}` payloads"));
                }
            }
            let variant = variant_of(m);
            let actions = m.actions.iter().map(|a| lit(a));
            checks.push(quote! {
                if [#(#actions),*].contains(&action) {
                    return Ok(Self::#variant(serde_json::from_value(value)?));
                }
            });
        }
        decode_arms.push(quote! {
            #cmd_lit => {
                let value: serde_json::Value = serde_json::from_str(text)?;
                let action = value["params"]["action"].as_str().unwrap_or_default();
                #(#checks)*
                return Err(<serde_json::Error as serde::de::Error>::custom(
                    format!("unknown {} action {action:?}", #cmd_lit),
                ));
            }
        });
    }
    let cmd_arms = commands.iter().map(|m| {
        let (variant, tag) = (variant_of(m), lit(&m.tag));
        quote! { Self::#variant(_) => #tag }
    });
    let encode_arms = commands.iter().map(|m| {
        let variant = variant_of(m);
        quote! { Self::#variant(c) => serde_json::to_value(c) }
    });
    Ok(quote! {
        /// A command the client sends, with its `cmd`.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum Command {
            #(#variants,)*
        }

        impl Command {
            /// The command's `cmd` on the wire.
            pub fn cmd(&self) -> &'static str {
                match self { #(#cmd_arms,)* }
            }

            /// The frame as JSON, `cmd` included.
            pub fn to_json(&self) -> Result<serde_json::Value, serde_json::Error> {
                let mut value = match self { #(#encode_arms,)* }?;
                if let Some(map) = value.as_object_mut() {
                    map.insert("cmd".to_owned(), serde_json::Value::String(self.cmd().to_owned()));
                }
                Ok(value)
            }

            /// Decodes a command frame (what the server receives).
            pub fn decode(text: &str) -> Result<Self, serde_json::Error> {
                #[derive(serde::Deserialize)]
                struct Head<'a> {
                    #[serde(borrow)]
                    cmd: std::borrow::Cow<'a, str>,
                }
                let head: Head<'_> = serde_json::from_str(text)?;
                Ok(match &*head.cmd {
                    #(#decode_arms,)*
                    other => {
                        return Err(<serde_json::Error as serde::de::Error>::custom(
                            format!("unknown command {other:?}"),
                        ))
                    }
                })
            }
        }
    })
}

fn channel_table(doc: &Value, messages: &[Message]) -> Result<TokenStream, String> {
    let channels = doc["channels"]
        .as_object()
        .ok_or("the AsyncAPI document has no channels")?;
    let by_name: BTreeMap<&str, &Message> = messages.iter().map(|m| (m.name.as_str(), m)).collect();
    let mut rows = Vec::new();
    for (name, channel) in channels {
        let listed = channel["messages"].as_object().into_iter().flatten();
        let mut kinds = BTreeSet::new();
        for (message, reference) in listed {
            let component = crate::spec::ref_name(reference).unwrap_or(message);
            if let Some(m) = by_name.get(component).filter(|m| !m.command) {
                kinds.insert(m.tag.clone());
            }
        }
        let address = channel["address"].as_str().unwrap_or(name);
        let kinds = kinds.iter().map(|k| lit(k));
        let (name, address) = (lit(name), lit(address));
        rows.push(
            quote! { Channel { name: #name, address: #address, message_types: &[#(#kinds),*] } },
        );
    }
    Ok(quote! {
        /// One channel of the document.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct Channel {
            /// The channel's key in the document.
            pub name: &'static str,
            /// Its address: the name to subscribe with (`/` for the
            /// command and control channels).
            pub address: &'static str,
            /// The `type`s of the server messages it carries.
            pub message_types: &'static [&'static str],
        }

        /// Every channel of the document.
        pub const CHANNELS: &[Channel] = &[#(#rows),*];
    })
}

fn error_codes(doc: &Value) -> Result<TokenStream, String> {
    if let Some(codes) = doc
        .pointer("/x-error-codes/codes")
        .and_then(Value::as_array)
    {
        let rows = codes.iter().map(|c| {
            let code = c["code"].as_i64().unwrap_or_default();
            let name = lit(c["name"].as_str().unwrap_or_default());
            let description = lit(c["description"].as_str().unwrap_or_default());
            quote! { (#code, #name, #description) }
        });
        return Ok(quote! {
            /// The error codes the document lists: (code, name, description).
            pub const ERROR_CODES: &[(i64, &str, &str)] = &[#(#rows),*];
        });
    }
    // The margin document has no table, only the codes as an enum on the
    // error payload, and says their numbering is shared with the Trade
    // API's WebSocket: the names are that table's.
    let codes = doc
        .pointer("/components/schemas/errorResponsePayload/properties/msg/properties/code/enum")
        .and_then(Value::as_array)
        .ok_or("the AsyncAPI document has neither x-error-codes nor an error code enum")?;
    let codes = codes.iter().filter_map(Value::as_i64);
    Ok(quote! {
        /// The error codes the document lists. Their names and meanings are
        /// the Trade API WebSocket's (`crate::stream::ERROR_CODES`): the
        /// document says the numbering is shared.
        pub const ERROR_CODES: &[i64] = &[#(#codes),*];
    })
}
