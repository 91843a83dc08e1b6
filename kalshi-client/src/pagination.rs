//! Cursor pagination for every list the spec paginates.
//!
//! Kalshi's lists take `cursor` + `limit` and answer with the next `cursor`;
//! an empty or missing cursor means the last page. The cursor does not
//! remember filters, so each page is requested by cloning the caller's
//! builder (filters included) and setting only the cursor. Cursors have been
//! seen to cycle (A, B, A, B): a repeated cursor ends the stream with an error
//! instead of looping forever.

use std::collections::HashSet;
use std::future::Future;

use futures_util::TryStreamExt;
use futures_util::stream::{self, Stream};
use kalshi_gen::builder as trade_builder;
use kalshi_gen::margin::{builder as margin_builder, types as margin_types};
use kalshi_gen::{Request, types};

use crate::{Error, Execute};

/// A response that carries one page of a list and the cursor to the next.
pub trait CursorResponse: Sized {
    /// One element of the list.
    type Item;
    /// Splits the page into its items, the rest of the response (with the
    /// item list emptied: e.g. a positions page keeps its event positions),
    /// and the next cursor (`None` on the last page).
    fn split(self) -> (Vec<Self::Item>, Self, Option<String>);
}

/// A generated list builder that can ask for a given page.
pub trait ListRequest: Request<Response: CursorResponse> + Clone {
    /// The same request, asking for the page after `cursor`.
    fn at_cursor(self, cursor: String) -> Self;
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page<R: CursorResponse> {
    /// The items on this page.
    pub items: Vec<R::Item>,
    /// The cursor of the next page; `None` on the last page.
    pub cursor: Option<String>,
    /// The rest of the response, with `items` moved out.
    pub rest: R,
}

/// An empty cursor means "no next page".
fn next_cursor(cursor: Option<String>) -> Option<String> {
    cursor.filter(|c| !c.is_empty())
}

macro_rules! cursor_responses {
    ($types:ident; $($response:ident . $items:ident: $item:ident, $cursor:ident: $kind:ident;)*) => {$(
        impl CursorResponse for $types::$response {
            type Item = $types::$item;
            fn split(mut self) -> (Vec<Self::Item>, Self, Option<String>) {
                let items = std::mem::take(&mut self.$items);
                let cursor = cursor_responses!(@take self.$cursor, $kind);
                (items, self, next_cursor(cursor))
            }
        }
    )*};
    (@take $field:expr, required) => { Some(std::mem::take(&mut $field)) };
    (@take $field:expr, optional) => { $field.take() };
}

cursor_responses! {
    types;
    GetBlockTradeProposalsResponse.block_trade_proposals: BlockTradeProposal, cursor: optional;
    GetDepositsResponse.deposits: Deposit, cursor: optional;
    GetEventFeeChangesResponse.event_fee_changes: EventFeeChange, cursor: required;
    GetEventsResponse.events: EventData, cursor: required;
    GetFcmFillsResponse.fills: FcmFill, cursor: required;
    GetFillsResponse.fills: Fill, cursor: required;
    GetIncentiveProgramsResponse.incentive_programs: IncentiveProgram, next_cursor: optional;
    GetIntraExchangeInstanceTransfersResponse.transfers: IntraExchangeInstanceTransfer, cursor: optional;
    GetMarketsResponse.markets: Market, cursor: required;
    GetMilestonesResponse.milestones: Milestone, cursor: optional;
    GetMultivariateEventCollectionsResponse.multivariate_contracts: MultivariateEventCollection, cursor: optional;
    GetMultivariateEventsResponse.events: EventData, cursor: required;
    GetOrdersResponse.orders: Order, cursor: required;
    GetPositionsResponse.market_positions: MarketPosition, cursor: optional;
    GetQuotesResponse.quotes: Quote, cursor: optional;
    GetRfQsResponse.rfqs: Rfq, cursor: optional;
    GetRfqBatchesResponse.rfq_batches: RfqBatch, cursor: optional;
    GetSettlementsResponse.settlements: Settlement, cursor: optional;
    GetStructuredTargetsResponse.structured_targets: StructuredTarget, cursor: optional;
    GetSubaccountTransfersResponse.transfers: SubaccountTransfer, cursor: optional;
    GetTradesResponse.trades: Trade, cursor: required;
    GetWithdrawalsResponse.withdrawals: Withdrawal, cursor: optional;
}

// The margin document's cursor lists.
cursor_responses! {
    margin_types;
    GetMarginFillsResponse.fills: MarginFill, cursor: required;
    GetMarginOrdersResponse.orders: MarginOrder, cursor: required;
    GetMarginTradesResponse.trades: MarginTrade, cursor: required;
}

macro_rules! list_requests {
    ($(#[$doc:meta])* $name:ident, $builders:ident; $($builder:ident,)*) => {
        $(
            impl ListRequest for $builders::$builder<'_> {
                fn at_cursor(self, cursor: String) -> Self {
                    self.cursor(cursor)
                }
            }
        )*
        $(#[$doc])*
        pub const $name: &[&str] =
            &[$(<$builders::$builder<'static> as Request>::OPERATION),*];
    };
}

list_requests! {
    /// The margin operations with a page stream; a test checks this against
    /// the margin document's cursor-paginated operations.
    MARGIN_PAGINATED_OPERATIONS, margin_builder;
    GetMarginFills,
    GetMarginOrders,
    GetMarginTrades,
}

list_requests! {
    /// The operations with a page stream; a test checks this against the
    /// spec's cursor-paginated operations.
    PAGINATED_OPERATIONS, trade_builder;
    GetBlockTradeProposals,
    GetDeposits,
    GetEventFeeChanges,
    GetEvents,
    GetFcmFills,
    GetFcmOrders,
    GetFcmPositions,
    GetFills,
    GetFillsHistorical,
    GetHistoricalMarkets,
    GetHistoricalOrders,
    GetHistoricalPositions,
    GetIncentivePrograms,
    GetIntraExchangeInstanceTransfers,
    GetMarkets,
    GetMilestones,
    GetMultivariateEventCollections,
    GetMultivariateEvents,
    GetOrders,
    GetPositions,
    GetQuotes,
    GetRfQs,
    GetRfqBatches,
    GetSettlements,
    GetStructuredTargets,
    GetSubaccountTransfers,
    GetTrades,
    GetTradesHistorical,
    GetWithdrawals,
}

/// Fetches one page of a list.
async fn fetch_page<L: ListRequest>(request: L) -> Result<Page<L::Response>, Error> {
    let (items, rest, cursor) = request.send().await?.split();
    Ok(Page {
        items,
        cursor,
        rest,
    })
}

/// Every item of a list across pages; see [`Paginate::stream`].
fn item_stream<L: ListRequest>(
    request: L,
    max_pages: Option<usize>,
) -> impl Stream<Item = Result<<L::Response as CursorResponse>::Item, Error>> + Send
where
    <L::Response as CursorResponse>::Item: Send,
{
    let state = Cursor {
        request,
        next: Some(None),
        seen: HashSet::new(),
        pending: None,
        pages: 0,
        max_pages,
    };
    stream::try_unfold(state, |mut state| async move {
        let Some(items) = state.advance().await? else {
            return Ok::<_, Error>(None);
        };
        Ok(Some((stream::iter(items.into_iter().map(Ok)), state)))
    })
    .try_flatten()
}

/// Pages and item streams for every cursor-paginated list.
///
/// ```no_run
/// # async fn demo(client: kalshi_client::Client) -> Result<(), kalshi_client::Error> {
/// use futures_util::TryStreamExt;
/// use kalshi_client::Paginate;
/// use kalshi_client::generated::ClientOrdersExt;
/// let first = client.raw().get_orders().limit(100).page().await?;
/// println!("{} orders, more: {}", first.items.len(), first.cursor.is_some());
/// let all: Vec<_> = client.raw().get_orders().status("resting").stream(None).try_collect().await?;
/// # Ok(()) }
/// ```
pub trait Paginate: ListRequest {
    /// One page: its items, the next cursor, and the rest of the response.
    fn page(self) -> impl Future<Output = Result<Page<Self::Response>, Error>> + Send {
        fetch_page(self)
    }

    /// Every item across pages, fetched lazily as the stream is polled, with
    /// the request's filters resent for every page. Ends after the last page,
    /// after `max_pages` pages when given, or with
    /// [`Error::ProtocolViolation`] when a cursor repeats.
    fn stream(
        self,
        max_pages: Option<usize>,
    ) -> impl Stream<Item = Result<<Self::Response as CursorResponse>::Item, Error>> + Send
    where
        <Self::Response as CursorResponse>::Item: Send,
    {
        item_stream(self, max_pages)
    }
}

impl<L: ListRequest> Paginate for L {}

/// Where a page stream is.
struct Cursor<L> {
    request: L,
    /// `Some(None)`: the first page is due; `Some(Some(c))`: page at `c`;
    /// `None`: done.
    next: Option<Option<String>>,
    seen: HashSet<String>,
    pages: usize,
    max_pages: Option<usize>,
    /// An error found with the last page, reported after its items.
    pending: Option<Error>,
}

impl<L: ListRequest> Cursor<L> {
    /// Fetches the next page's items, or `None` when the list is done.
    async fn advance(
        &mut self,
    ) -> Result<Option<Vec<<L::Response as CursorResponse>::Item>>, Error> {
        if let Some(error) = self.pending.take() {
            return Err(error);
        }
        let Some(at) = self.next.take() else {
            return Ok(None);
        };
        if self.max_pages.is_some_and(|max| self.pages >= max) {
            return Ok(None);
        }
        let request = match at {
            Some(cursor) => self.request.clone().at_cursor(cursor),
            None => self.request.clone(),
        };
        let page = fetch_page(request).await?;
        self.pages += 1;
        match page.cursor {
            // The items of the page that repeated a cursor are still news.
            Some(cursor) if !self.seen.insert(cursor.clone()) => {
                self.pending = Some(Error::ProtocolViolation {
                    operation: <L as Request>::OPERATION,
                    message: format!(
                        "the cursor {cursor:?} came back a second time; stopping instead of looping"
                    ),
                });
            }
            Some(cursor) => self.next = Some(Some(cursor)),
            None => {}
        }
        Ok(Some(page.items))
    }
}
