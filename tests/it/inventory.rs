//! The operation inventory, derived from the vendored spec.

use xtask::inventory::{Placement, inventory, render};

fn vendored() -> serde_json::Value {
    xtask::spec::parse(kalshi_openapi::SPEC_YAML).expect("vendored spec parses")
}

/// A spec bump shows up here as a reviewable diff: operations, methods,
/// paths, whether they are signed, where `subaccount`, `exchange_index` and
/// `market_ticker` go, and which lists are cursor-paginated.
#[test]
fn operation_inventory_snapshot() {
    insta::assert_snapshot!("operation_inventory", render(&inventory(&vendored())));
}

#[test]
fn inventory_has_every_operation_once() {
    let rows = inventory(&vendored());
    assert_eq!(rows.len(), 128);
    let mut names: Vec<&str> = rows.iter().map(|r| r.method_name.as_str()).collect();
    names.dedup();
    assert_eq!(names.len(), 128, "two operations map to one method name");
}

/// Spot checks of the routing facts in the design notes, so the snapshot is
/// not the only thing that knows them.
#[test]
fn routing_matches_the_documented_quirks() {
    let rows = inventory(&vendored());
    let find = |id: &str| {
        rows.iter()
            .find(|r| r.operation_id == id)
            .unwrap_or_else(|| panic!("{id}"))
    };
    let [sub, xindex, ticker] = find("CancelOrderV2").routing;
    assert_eq!(
        (sub, xindex, ticker),
        (Placement::Query, Placement::Query, Placement::Query)
    );
    let [sub, xindex, _] = find("AmendOrderV2").routing;
    assert_eq!((sub, xindex), (Placement::Query, Placement::Body));
    let [sub, xindex, ticker] = find("DecreaseOrderV2").routing;
    assert_eq!(
        (sub, xindex, ticker),
        (Placement::Query, Placement::Body, Placement::Body)
    );
    assert_eq!(find("CreateOrderV2").routing[0], Placement::Body);
    assert_eq!(
        find("BatchCreateOrdersV2").routing[0],
        Placement::BodyPerItem
    );
    assert_eq!(
        find("BatchCancelOrdersV2").routing[0],
        Placement::BodyPerItem
    );
    assert_eq!(find("GetOrders").routing[0], Placement::Query);
    assert!(find("GetOrders").paginated && find("GetMarkets").paginated);
    assert!(!find("GetMarkets").authenticated && find("GetBalance").authenticated);
}

/// The table compiled into kalshi-gen is the inventory of the spec it was
/// generated from.
#[test]
fn generated_operation_table_matches_the_inventory() {
    let mut spec = vendored();
    xtask::patches::apply_all(&mut spec).expect("patches apply");
    let rows = inventory(&spec);
    assert_eq!(kalshi_gen::OPERATIONS.len(), rows.len());
    for row in rows {
        let op = kalshi_gen::Operation::find(&row.method_name)
            .unwrap_or_else(|| panic!("{} missing from OPERATIONS", row.method_name));
        assert_eq!(
            (op.operation_id, op.method, op.path),
            (
                row.operation_id.as_str(),
                row.method.as_str(),
                row.path.as_str()
            )
        );
        assert_eq!(
            (op.authenticated, op.paginated),
            (row.authenticated, row.paginated)
        );
    }
}

// --- the margin (perpetuals) document ---------------------------------------

fn margin() -> serde_json::Value {
    let mut spec = xtask::spec::parse(kalshi_openapi::margin::YAML).expect("margin spec parses");
    xtask::patches::apply(&mut spec, xtask::patches::MARGIN_PATCHES).expect("patches apply");
    spec
}

/// The margin document's own inventory: a bump of it shows up here.
#[test]
fn margin_operation_inventory_snapshot() {
    insta::assert_snapshot!("margin_operation_inventory", render(&inventory(&margin())));
}

#[test]
fn margin_inventory_has_every_operation_once() {
    let rows = inventory(&margin());
    assert_eq!(rows.len(), 53);
    let mut names: Vec<&str> = rows.iter().map(|r| r.method_name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 53, "two operations map to one method name");
}

/// `kalshi_gen::margin::OPERATIONS` is the inventory of the margin document.
#[test]
fn generated_margin_operation_table_matches_the_inventory() {
    let rows = inventory(&margin());
    let table = kalshi_gen::margin::OPERATIONS;
    assert_eq!(table.len(), rows.len());
    for row in rows {
        let op = table
            .iter()
            .find(|op| op.name == row.method_name)
            .unwrap_or_else(|| panic!("{} missing from margin::OPERATIONS", row.method_name));
        assert_eq!(
            (
                op.operation_id,
                op.method,
                op.path,
                op.authenticated,
                op.paginated
            ),
            (
                row.operation_id.as_str(),
                row.method.as_str(),
                row.path.as_str(),
                row.authenticated,
                row.paginated
            )
        );
    }
}
