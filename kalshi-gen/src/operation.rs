//! What the generator knows about each operation, as data.
//!
//! The table itself ([`OPERATIONS`](crate::OPERATIONS)) is generated from
//! the spec; `kalshi-client` reads it to decide whether a call must be signed,
//! whether it is a read (retried freely) or a write, and where routing
//! parameters go; the local exchange (`kalshi-sim`) reads it to route
//! requests and refuse parameters an endpoint does not take.

/// Where a request parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Placement {
    /// The operation does not take it.
    Absent,
    /// In the query string.
    Query,
    /// As a top-level JSON body property.
    Body,
    /// As a property of each element of a body array (batch requests).
    BodyPerItem,
}

/// One operation of the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Operation {
    /// progenitor's method name, also `OperationInfo::operation_id`.
    pub name: &'static str,
    /// The spec's `operationId`.
    pub operation_id: &'static str,
    /// Uppercase HTTP method.
    pub method: &'static str,
    /// Path template below the base path (`/portfolio/orders/{order_id}`).
    pub path: &'static str,
    /// The spec tag that groups it.
    pub tag: &'static str,
    /// Whether the request must be signed.
    pub authenticated: bool,
    /// Whether it is a `cursor`-paginated list.
    pub paginated: bool,
    /// Where `subaccount` goes.
    pub subaccount: Placement,
    /// Where `exchange_index` goes.
    pub exchange_index: Placement,
    /// Where `market_ticker` goes.
    pub market_ticker: Placement,
    /// The query parameters it takes, sorted.
    pub query: &'static [&'static str],
    /// The top-level JSON body properties it takes, sorted.
    pub body: &'static [&'static str],
    /// For each body property that is an array of objects (batch requests),
    /// the properties its elements take, sorted.
    pub body_items: &'static [(&'static str, &'static [&'static str])],
}

impl Operation {
    /// Looks an operation up by progenitor's method name, in the Trade API's
    /// table, then in the margin API's ([`crate::margin::OPERATIONS`]). The
    /// two documents share a name only for the same endpoint
    /// (`intra_exchange_instance_transfer`), which a test checks.
    pub fn find(name: &str) -> Option<&'static Operation> {
        Self::find_in(crate::OPERATIONS, name)
            .or_else(|| Self::find_in(crate::margin::OPERATIONS, name))
    }

    /// Looks an operation up in one table (sorted by name, as generated).
    pub fn find_in(table: &'static [Operation], name: &str) -> Option<&'static Operation> {
        table
            .binary_search_by(|op| op.name.cmp(name))
            .ok()
            .map(|i| &table[i])
    }

    /// Whether the operation only reads (GET): safe to retry.
    pub fn is_read(&self) -> bool {
        self.method == "GET"
    }
}

#[cfg(test)]
mod tests {
    use super::Operation;

    #[test]
    fn both_tables_are_sorted_and_shared_names_are_the_same_endpoint() {
        for table in [crate::OPERATIONS, crate::margin::OPERATIONS] {
            assert!(table.windows(2).all(|w| w[0].name < w[1].name));
        }
        let mut shared = 0;
        for margin in crate::margin::OPERATIONS {
            if let Some(trade) = Operation::find_in(crate::OPERATIONS, margin.name) {
                shared += 1;
                assert_eq!(
                    (trade.method, trade.path),
                    (margin.method, margin.path),
                    "{}",
                    margin.name
                );
            }
            assert!(Operation::find(margin.name).is_some(), "{}", margin.name);
        }
        assert_eq!(shared, 1, "intra_exchange_instance_transfer only");
        assert_eq!(
            Operation::find("get_margin_balance").map(|op| op.path),
            Some("/margin/balance")
        );
    }
}
