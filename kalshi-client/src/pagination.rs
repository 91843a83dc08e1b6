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
use kalshi_gen::types;
use progenitor_client::ResponseValue;

use crate::{Client, Error};

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
pub trait ListRequest: Clone + Send {
    /// What one page decodes to.
    type Response: CursorResponse + Send;
    /// The documented error body type of the operation.
    type ErrorBody: Send;
    /// progenitor's method name, for errors.
    const OPERATION: &'static str;
    /// The same request, asking for the page after `cursor`.
    fn at_cursor(self, cursor: String) -> Self;
    /// Sends it.
    fn send_page(
        self,
    ) -> impl Future<
        Output = Result<ResponseValue<Self::Response>, progenitor_client::Error<Self::ErrorBody>>,
    > + Send;
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
    ($($response:ident . $items:ident: $item:ident, $cursor:ident: $kind:ident;)*) => {$(
        impl CursorResponse for types::$response {
            type Item = types::$item;
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
    GetSettlementsResponse.settlements: Settlement, cursor: optional;
    GetStructuredTargetsResponse.structured_targets: StructuredTarget, cursor: optional;
    GetSubaccountTransfersResponse.transfers: SubaccountTransfer, cursor: optional;
    GetTradesResponse.trades: Trade, cursor: required;
    GetWithdrawalsResponse.withdrawals: Withdrawal, cursor: optional;
}

macro_rules! list_requests {
    ($($name:ident: $builder:ident -> $response:ident, $error:ty;)*) => {
        $(
            impl ListRequest for kalshi_gen::builder::$builder<'_> {
                type Response = types::$response;
                type ErrorBody = $error;
                const OPERATION: &'static str = stringify!($name);
                fn at_cursor(self, cursor: String) -> Self {
                    self.cursor(cursor)
                }
                fn send_page(
                    self,
                ) -> impl Future<Output = Result<ResponseValue<Self::Response>, progenitor_client::Error<$error>>> + Send {
                    self.send()
                }
            }
        )*
        /// The method names of every list with a page stream; a test checks
        /// it against the spec's cursor-paginated operations.
        pub const PAGINATED_OPERATIONS: &[&str] = &[$(stringify!($name)),*];
    };
}

list_requests! {
    get_block_trade_proposals: GetBlockTradeProposals -> GetBlockTradeProposalsResponse, types::ErrorResponse;
    get_deposits: GetDeposits -> GetDepositsResponse, types::ErrorResponse;
    get_event_fee_changes: GetEventFeeChanges -> GetEventFeeChangesResponse, types::ErrorResponse;
    get_events: GetEvents -> GetEventsResponse, ();
    get_fcm_fills: GetFcmFills -> GetFcmFillsResponse, ();
    get_fcm_orders: GetFcmOrders -> GetOrdersResponse, ();
    get_fcm_positions: GetFcmPositions -> GetPositionsResponse, ();
    get_fills: GetFills -> GetFillsResponse, ();
    get_fills_historical: GetFillsHistorical -> GetFillsResponse, types::ErrorResponse;
    get_historical_markets: GetHistoricalMarkets -> GetMarketsResponse, types::ErrorResponse;
    get_historical_orders: GetHistoricalOrders -> GetOrdersResponse, types::ErrorResponse;
    get_historical_positions: GetHistoricalPositions -> GetPositionsResponse, types::ErrorResponse;
    get_incentive_programs: GetIncentivePrograms -> GetIncentiveProgramsResponse, types::ErrorResponse;
    get_intra_exchange_instance_transfers: GetIntraExchangeInstanceTransfers -> GetIntraExchangeInstanceTransfersResponse, types::ErrorResponse;
    get_markets: GetMarkets -> GetMarketsResponse, ();
    get_milestones: GetMilestones -> GetMilestonesResponse, ();
    get_multivariate_event_collections: GetMultivariateEventCollections -> GetMultivariateEventCollectionsResponse, types::ErrorResponse;
    get_multivariate_events: GetMultivariateEvents -> GetMultivariateEventsResponse, ();
    get_orders: GetOrders -> GetOrdersResponse, types::ErrorResponse;
    get_positions: GetPositions -> GetPositionsResponse, types::ErrorResponse;
    get_quotes: GetQuotes -> GetQuotesResponse, types::ErrorResponse;
    get_rf_qs: GetRfQs -> GetRfQsResponse, types::ErrorResponse;
    get_settlements: GetSettlements -> GetSettlementsResponse, types::ErrorResponse;
    get_structured_targets: GetStructuredTargets -> GetStructuredTargetsResponse, ();
    get_subaccount_transfers: GetSubaccountTransfers -> GetSubaccountTransfersResponse, types::ErrorResponse;
    get_trades: GetTrades -> GetTradesResponse, ();
    get_trades_historical: GetTradesHistorical -> GetTradesResponse, types::ErrorResponse;
    get_withdrawals: GetWithdrawals -> GetWithdrawalsResponse, types::ErrorResponse;
}

impl Client {
    /// Fetches one page of a list: `request` is a generated list builder
    /// (`client.raw().get_orders().status("resting")`), optionally already
    /// at a cursor.
    pub async fn page<L: ListRequest>(&self, request: L) -> Result<Page<L::Response>, Error> {
        let response = self.send(request.send_page()).await?;
        let (items, rest, cursor) = response.split();
        Ok(Page {
            items,
            cursor,
            rest,
        })
    }

    /// Every item of a list across pages, fetched lazily as the stream is
    /// polled. Stops after the last page, after `max_pages` pages when
    /// given, or with [`Error::ProtocolViolation`] when a cursor repeats.
    pub fn stream<'a, L>(
        &'a self,
        request: L,
        max_pages: Option<usize>,
    ) -> impl Stream<Item = Result<<L::Response as CursorResponse>::Item, Error>> + Send + 'a
    where
        L: ListRequest + 'a,
        <L::Response as CursorResponse>::Item: Send + 'a,
    {
        let state = Cursor {
            request,
            next: Some(None),
            seen: HashSet::new(),
            pages: 0,
            max_pages,
        };
        stream::try_unfold(state, move |mut state| async move {
            let Some(page) = state.advance(self).await? else {
                return Ok::<_, Error>(None);
            };
            Ok(Some((stream::iter(page.into_iter().map(Ok)), state)))
        })
        .try_flatten()
    }
}

/// Where a page stream is.
struct Cursor<L> {
    request: L,
    /// `Some(None)`: the first page is due; `Some(Some(c))`: page at `c`;
    /// `None`: done.
    next: Option<Option<String>>,
    seen: HashSet<String>,
    pages: usize,
    max_pages: Option<usize>,
}

impl<L: ListRequest> Cursor<L> {
    /// Fetches the next page's items, or `None` when the list is done.
    async fn advance(
        &mut self,
        client: &Client,
    ) -> Result<Option<Vec<<L::Response as CursorResponse>::Item>>, Error> {
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
        let page = client.page(request).await?;
        self.pages += 1;
        if let Some(cursor) = page.cursor {
            if !self.seen.insert(cursor.clone()) {
                return Err(Error::ProtocolViolation {
                    operation: L::OPERATION,
                    message: format!(
                        "the cursor {cursor:?} came back a second time; stopping instead of looping"
                    ),
                });
            }
            self.next = Some(Some(cursor));
        }
        Ok(Some(page.items))
    }
}
