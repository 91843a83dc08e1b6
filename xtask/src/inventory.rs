//! The operation inventory: what each operation is and where its routing
//! parameters go.
//!
//! Kalshi puts `subaccount`, `exchange_index` and `market_ticker` in the
//! query string for some endpoints and in the JSON body for others, and moves
//! them between spec versions. The inventory makes that visible: it is
//! snapshotted by the tests (a spec bump shows up as a reviewable diff) and
//! emitted into the generated crate as a table the client routes by.

use std::fmt::Write as _;

use serde_json::Value;

use crate::spec::{self, Operation};

/// The parameters whose placement this SDK must get right.
pub const ROUTING_PARAMS: [&str; 3] = ["subaccount", "exchange_index", "market_ticker"];

/// Where a parameter goes in a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Not accepted by the operation.
    Absent,
    /// A query-string parameter.
    Query,
    /// A top-level JSON body property.
    Body,
    /// A property of each element of a body array (batch requests).
    BodyPerItem,
}

impl Placement {
    /// The word used in the snapshot and the generated table.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Absent => "-",
            Self::Query => "query",
            Self::Body => "body",
            Self::BodyPerItem => "body[]",
        }
    }
}

/// One row of the inventory.
#[derive(Debug, Clone)]
pub struct Row {
    /// The spec's operationId (`CreateOrderV2`).
    pub operation_id: String,
    /// The snake_case name progenitor gives the method (`create_order_v2`).
    pub method_name: String,
    /// Uppercase HTTP method.
    pub method: String,
    /// Path template below the base path.
    pub path: String,
    /// The first tag.
    pub tag: String,
    /// Whether the operation requires a signed request.
    pub authenticated: bool,
    /// Whether it is a `cursor`-paginated list.
    pub paginated: bool,
    /// Placement of each of [`ROUTING_PARAMS`], in that order.
    pub routing: [Placement; 3],
    /// The query parameters it takes, sorted.
    pub query: Vec<String>,
    /// The top-level JSON body properties it takes, sorted.
    pub body: Vec<String>,
    /// For each body property that is an array of objects, the properties
    /// of its elements (batch requests), sorted.
    pub body_items: Vec<(String, Vec<String>)>,
}

/// The inventory of every operation, sorted by operationId.
pub fn inventory(doc: &Value) -> Vec<Row> {
    let mut rows: Vec<Row> = spec::operations(doc)
        .iter()
        .map(|op| row(doc, op))
        .collect();
    rows.sort_by(|a, b| a.operation_id.cmp(&b.operation_id));
    rows
}

fn row(doc: &Value, op: &Operation<'_>) -> Row {
    let operation_id = op.id();
    Row {
        method_name: snake_case(&operation_id),
        method: op.method.clone(),
        path: op.path.to_owned(),
        tag: op
            .op
            .pointer("/tags/0")
            .and_then(Value::as_str)
            .unwrap_or("default")
            .to_owned(),
        authenticated: is_authenticated(doc, op),
        paginated: is_paginated(doc, op),
        routing: ROUTING_PARAMS.map(|name| placement(doc, op, name)),
        query: query_names(doc, op),
        body: body_names(doc, op),
        body_items: body_item_names(doc, op),
        operation_id,
    }
}

fn query_names(doc: &Value, op: &Operation<'_>) -> Vec<String> {
    let mut names: Vec<String> = op
        .parameters(doc)
        .iter()
        .filter(|p| p["in"] == "query")
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    names.dedup();
    names
}

fn body_names(doc: &Value, op: &Operation<'_>) -> Vec<String> {
    let Some(body) = op.request_schema(doc) else {
        return Vec::new();
    };
    let mut names: Vec<String> = spec::properties(doc, body)
        .iter()
        .map(|(name, _)| (*name).to_owned())
        .collect();
    names.sort();
    names.dedup();
    names
}

fn body_item_names(doc: &Value, op: &Operation<'_>) -> Vec<(String, Vec<String>)> {
    let Some(body) = op.request_schema(doc) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Vec<String>)> = spec::properties(doc, body)
        .iter()
        .filter_map(|(name, schema)| {
            let schema = spec::resolve(doc, schema);
            let items = schema.get("items").filter(|_| schema["type"] == "array")?;
            let mut names: Vec<String> = spec::properties(doc, items)
                .iter()
                .map(|(n, _)| (*n).to_owned())
                .collect();
            names.sort();
            names.dedup();
            (!names.is_empty()).then(|| ((*name).to_owned(), names))
        })
        .collect();
    out.sort();
    out
}

/// An operation is signed when its own `security`, or else the document's,
/// names at least one requirement.
fn is_authenticated(doc: &Value, op: &Operation<'_>) -> bool {
    let security = op.op.get("security").or_else(|| doc.get("security"));
    security.and_then(Value::as_array).is_some_and(|reqs| {
        reqs.iter()
            .any(|r| r.as_object().is_some_and(|o| !o.is_empty()))
    })
}

/// A list is cursor-paginated when it takes a `cursor` query parameter and
/// answers with a top-level `cursor` (or, in one place, `next_cursor`).
fn is_paginated(doc: &Value, op: &Operation<'_>) -> bool {
    let takes_cursor = op
        .parameters(doc)
        .iter()
        .any(|p| p["name"] == "cursor" && p["in"] == "query");
    let returns_cursor = op.success_schema(doc).is_some_and(|s| {
        spec::properties(doc, s)
            .iter()
            .any(|(name, _)| matches!(*name, "cursor" | "next_cursor"))
    });
    takes_cursor && returns_cursor
}

fn placement(doc: &Value, op: &Operation<'_>, name: &str) -> Placement {
    if op
        .parameters(doc)
        .iter()
        .any(|p| p["name"] == name && p["in"] == "query")
    {
        return Placement::Query;
    }
    let Some(body) = op.request_schema(doc) else {
        return Placement::Absent;
    };
    let props = spec::properties(doc, body);
    if props.iter().any(|(prop, _)| *prop == name) {
        return Placement::Body;
    }
    let per_item = props.iter().any(|(_, schema)| {
        let schema = spec::resolve(doc, schema);
        schema["type"] == "array"
            && schema
                .get("items")
                .is_some_and(|items| spec::properties(doc, items).iter().any(|(p, _)| *p == name))
    });
    if per_item {
        Placement::BodyPerItem
    } else {
        Placement::Absent
    }
}

/// progenitor's method naming (heck, as progenitor uses it):
/// `GetMarketCandlesticks` -> `get_market_candlesticks`.
pub fn snake_case(id: &str) -> String {
    heck::ToSnakeCase::to_snake_case(id)
}

/// The inventory as an aligned text table, for the snapshot.
pub fn render(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<52} {:<6} {:<72} {:<6} {:<14} {:<6} {:<6} paginated",
        "operation", "method", "path", "auth", "subaccount", "xindex", "ticker"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:<52} {:<6} {:<72} {:<6} {:<14} {:<6} {:<6} {}",
            r.operation_id,
            r.method,
            r.path,
            if r.authenticated { "signed" } else { "public" },
            r.routing[0].as_str(),
            r.routing[1].as_str(),
            r.routing[2].as_str(),
            if r.paginated { "cursor" } else { "-" },
        );
    }
    out
}
