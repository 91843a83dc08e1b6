//! Operations grouped the way traders think: `client.markets()`,
//! `client.portfolio()`, `client.orders()` and the rest.
//!
//! Every method returns the request for its operation with the path
//! parameters filled in; nothing is sent until it is finished with
//! [`send`](crate::Execute::send) (typed errors) or, for lists,
//! [`page`](crate::Paginate::page) / [`stream`](crate::Paginate::stream).
//! Set optional parameters on it in between. Where the client has a default
//! subaccount and the operation takes `subaccount` in its query, the request
//! comes with it set; setting it again overrides it. The order writes take
//! typed values ([`Orders`]) that are checked before anything is sent.
//!
//! ```no_run
//! # async fn demo(client: kalshi_client::Client) -> Result<(), kalshi_client::Error> {
//! use kalshi_client::Execute;
//! let market = client.markets().get("KXBTC-26DEC31-T100000").send().await?;
//! let book = client.markets().orderbook("KXBTC-26DEC31-T100000").depth(10).send().await?;
//! let balance = client.portfolio().balance().send().await?;
//! # Ok(()) }
//! ```

use crate::Client;

mod account;
mod api_keys;
mod communications;
mod events;
mod exchange;
mod fcm;
mod historical;
mod incentive_programs;
mod live_data;
mod margin;
mod markets;
mod milestones;
mod multivariate;
mod order_groups;
mod orders;
mod portfolio;
mod search;
mod series;
mod structured_targets;
mod subaccounts;

pub use account::Account;
pub use api_keys::ApiKeys;
pub use communications::{Communications, RfqBatches};
pub use events::Events;
pub use exchange::Exchange;
pub use fcm::Fcm;
pub use historical::Historical;
pub use incentive_programs::IncentivePrograms;
pub use live_data::LiveData;
pub use margin::{
    Margin, MarginExchange, MarginExitTriggers, MarginFcm, MarginFees, MarginFunding,
    MarginMarkets, MarginOrderGroups, MarginOrders, MarginPortfolio, MarginRisk, margin_routes,
};
pub use markets::Markets;
pub use milestones::Milestones;
pub use multivariate::Multivariate;
pub use order_groups::OrderGroups;
pub use orders::{BatchError, BatchOutcome, Orders, QueueScope, Reconciled};
pub use portfolio::Portfolio;
pub use search::Search;
pub use series::Series;
pub use structured_targets::StructuredTargets;
pub use subaccounts::Subaccounts;

/// One named method of a resource group and the operation it reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The group's accessor on [`Client`], e.g. `markets`.
    pub group: &'static str,
    /// The method, e.g. `list`.
    pub method: &'static str,
    /// progenitor's operation name, e.g. `get_markets`.
    pub operation: &'static str,
}

/// Declares a resource group: a borrowed handle with one method per
/// operation. Each method returns the operation's generated builder; the
/// route table is read off the builder's type, so it cannot drift from what
/// the method really calls.
///
/// `method(arg, ...) => operation: Builder;` fills path parameters `arg`
/// (the builder's setters of the same names). A trailing `[subaccount]`
/// presets the query `subaccount` from the client's default. Methods
/// written by hand (typed requests) list their routes under `@typed { method
/// => Builder; }`. A group reached from another group rather than from the
/// client names its parent: `Group => parent.accessor { ... }` (its routes
/// are then `parent.accessor`). `in margin` after the accessor builds the
/// margin API's requests instead of the Trade API's: the invoking module
/// then names `kalshi_gen::margin` `kalshi_gen_margin`.
macro_rules! resource_group {
    (
        $(#[$group_doc:meta])*
        $group:ident => $parent:ident . $accessor:ident in margin {
            $($body:tt)*
        }
    ) => {
        resource_group!(
            @group $(#[$group_doc])* $group,
            concat!(stringify!($parent), ".", stringify!($accessor)),
            kalshi_gen_margin, raw_margin,
            { $($body)* }
        );

        impl<'a> $parent<'a> {
            $(#[$group_doc])*
            pub fn $accessor(&self) -> $group<'a> {
                $group { client: self.client }
            }
        }
    };
    (
        $(#[$group_doc:meta])*
        $group:ident => $accessor:ident in margin {
            $($body:tt)*
        }
    ) => {
        resource_group!(@group $(#[$group_doc])* $group, stringify!($accessor), kalshi_gen_margin, raw_margin, { $($body)* });

        impl crate::Client {
            $(#[$group_doc])*
            pub fn $accessor(&self) -> $group<'_> {
                $group { client: self }
            }
        }
    };
    (
        $(#[$group_doc:meta])*
        $group:ident => $accessor:ident {
            $($body:tt)*
        }
    ) => {
        resource_group!(@group $(#[$group_doc])* $group, stringify!($accessor), kalshi_gen, raw, { $($body)* });

        impl crate::Client {
            $(#[$group_doc])*
            pub fn $accessor(&self) -> $group<'_> {
                $group { client: self }
            }
        }
    };
    (
        $(#[$group_doc:meta])*
        $group:ident => $parent:ident . $accessor:ident {
            $($body:tt)*
        }
    ) => {
        resource_group!(
            @group $(#[$group_doc])* $group,
            concat!(stringify!($parent), ".", stringify!($accessor)),
            kalshi_gen, raw,
            { $($body)* }
        );

        impl<'a> $parent<'a> {
            $(#[$group_doc])*
            pub fn $accessor(&self) -> $group<'a> {
                $group { client: self.client }
            }
        }
    };
    (
        @group
        $(#[$group_doc:meta])*
        $group:ident, $name:expr, $gen:ident, $raw:ident, {
            $(
                $(#[$doc:meta])*
                $method:ident($($arg:ident),*) => $operation:ident: $builder:ident $([$default:ident])?;
            )*
            $(@typed {
                $($typed_method:ident => $typed_builder:ident;)*
            })?
        }
    ) => {
        $(#[$group_doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $group<'a> {
            client: &'a crate::Client,
        }

        impl<'a> $group<'a> {
            $(
                $(#[$doc])*
                #[must_use = "a request does nothing until it is sent with .send().await"]
                pub fn $method(&self, $($arg: impl Into<String>),*) -> $gen::builder::$builder<'a> {
                    #[allow(unused_imports)]
                    use $gen::*;
                    let builder = self.client.$raw().$operation()$(.$arg($arg.into()))*;
                    $(let builder = resource_group!(@$default self.client, builder);)?
                    builder
                }
            )*

            /// The methods of this group and the operations they reach.
            pub const ROUTES: &'static [crate::resources::Route] = &[
                $(
                    crate::resources::Route {
                        group: $name,
                        method: stringify!($method),
                        operation: <$gen::builder::$builder<'static> as kalshi_gen::Request>::OPERATION,
                    },
                )*
                $($(
                    crate::resources::Route {
                        group: $name,
                        method: stringify!($typed_method),
                        operation: <$gen::builder::$typed_builder<'static> as kalshi_gen::Request>::OPERATION,
                    },
                )*)?
            ];
        }
    };
    (@subaccount $client:expr, $builder:ident) => {
        match $client.default_subaccount() {
            Some(subaccount) => $builder.subaccount(i64::from(subaccount)),
            None => $builder,
        }
    };
}

pub(crate) use resource_group;

/// Every named method of every group, for documentation and for the test
/// that fails when an operation of the spec has none.
pub fn routes() -> impl Iterator<Item = &'static Route> {
    let groups: &[&[Route]] = &[
        Exchange::ROUTES,
        Series::ROUTES,
        Markets::ROUTES,
        Events::ROUTES,
        Orders::ROUTES,
        Portfolio::ROUTES,
        Subaccounts::ROUTES,
        OrderGroups::ROUTES,
        Communications::ROUTES,
        RfqBatches::ROUTES,
        Account::ROUTES,
        ApiKeys::ROUTES,
        Historical::ROUTES,
        Milestones::ROUTES,
        Multivariate::ROUTES,
        StructuredTargets::ROUTES,
        LiveData::ROUTES,
        Search::ROUTES,
        Fcm::ROUTES,
        IncentivePrograms::ROUTES,
    ];
    groups.iter().flat_map(|routes| routes.iter())
}

impl Client {
    /// Placing, changing, canceling and reading orders.
    pub fn orders(&self) -> Orders<'_> {
        Orders::new(self)
    }
}
