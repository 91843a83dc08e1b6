//! Margin (perpetual futures): Kalshi's second REST document, under
//! `/margin/...` on the same hosts, reached through `client.margin()`.
//!
//! Every operation of the margin document has a named method here; they
//! return the generated requests of `kalshi_gen::margin`, signed, limited
//! and retried like the Trade API's, and finished with `.send().await` (or
//! `.page()` / `.stream(None)` for the three cursor lists).
use kalshi_gen::margin as kalshi_gen_margin;

use crate::margin::{Bracket, CrossExitTrigger, ExitTrigger, NewMarginOrder};
use crate::order::Refused;
use crate::resources::resource_group;

resource_group! {
    /// Margin (perpetual futures) trading: markets, orders, positions,
    /// balance and risk, funding, exit triggers.
    Margin => margin in margin {
        /// Scheduled and recent corporate-action notices (dividends,
        /// splits, final settlements, ticker changes) for margin markets.
        ///
        /// `GET /margin/corporate_actions`
        corporate_actions() => get_margin_corporate_actions: GetMarginCorporateActions;
        /// The perps API budget of this key (read and write buckets).
        ///
        /// `GET /account/limits/perps`
        account_limits() => get_perps_account_api_limits: GetPerpsAccountApiLimits;
    }
}

resource_group! {
    /// The margin exchange's status and whether this account may trade it.
    MarginExchange => Margin.exchange in margin {
        /// Whether the margin exchange and trading are active.
        ///
        /// `GET /margin/exchange/status`
        status() => get_margin_exchange_status: GetMarginExchangeStatus;
        /// Whether this account is enabled for margin trading.
        ///
        /// `GET /margin/enabled`
        enabled() => get_margin_enabled: GetMarginEnabled;
    }
}

resource_group! {
    /// Margin markets, their order books, candlesticks and public trades.
    MarginMarkets => Margin.markets in margin {
        /// Margin markets, filtered.
        ///
        /// `GET /margin/markets`
        list() => get_margin_markets: GetMarginMarkets;
        /// One margin market.
        ///
        /// `GET /margin/markets/{ticker}`
        get(ticker) => get_margin_market: GetMarginMarket;
        /// One market's order book.
        ///
        /// `GET /margin/markets/{ticker}/orderbook`
        orderbook(ticker) => get_margin_market_orderbook: GetMarginMarketOrderbook;
        /// Several markets' order books in one call.
        ///
        /// `GET /margin/markets/orderbooks`
        orderbooks() => get_margin_market_orderbooks: GetMarginMarketOrderbooks;
        /// One market's candlesticks.
        ///
        /// `GET /margin/markets/{ticker}/candlesticks`
        candlesticks(ticker) => get_margin_market_candlesticks: GetMarginMarketCandlesticks;
        /// Public trades (cursor-paginated).
        ///
        /// `GET /margin/trades`
        trades() => get_margin_trades: GetMarginTrades;
    }
}

resource_group! {
    /// Placing, changing, canceling and reading margin orders.
    MarginOrders => Margin.orders in margin {
        /// One order.
        ///
        /// `GET /margin/orders/{order_id}`
        get(order_id) => get_margin_order: GetMarginOrder;
        /// Orders, filtered (cursor-paginated).
        ///
        /// `GET /margin/orders`
        list() => get_margin_orders: GetMarginOrders;
        /// Cancels one order.
        ///
        /// `DELETE /margin/orders/{order_id}`
        cancel(order_id) => cancel_margin_order: CancelMarginOrder;
        /// Cancels every resting order (of a subaccount, a market).
        ///
        /// `DELETE /margin/orders`
        cancel_all() => cancel_all_margin_orders: CancelAllMarginOrders;
        /// Changes an order's price or size.
        ///
        /// `POST /margin/orders/{order_id}/amend`
        amend(order_id) => amend_margin_order: AmendMarginOrder;
        /// Reduces an order's remaining size.
        ///
        /// `POST /margin/orders/{order_id}/decrease`
        decrease(order_id) => decrease_margin_order: DecreaseMarginOrder;
        @typed {
            create => CreateMarginOrder;
        }
    }
}

impl<'a> MarginOrders<'a> {
    /// Places a typed order (`POST /margin/orders`). Never retried except
    /// after a 429; its `client_order_id` is fixed in the request, so a
    /// retry can never place it twice. An order that breaks a documented
    /// rule (reduce-only resting, no market) is refused before sending.
    #[must_use = "a request does nothing until it is sent with .send().await"]
    pub fn create(
        &self,
        order: &NewMarginOrder,
    ) -> kalshi_gen_margin::builder::CreateMarginOrder<'a> {
        use kalshi_gen_margin::ClientOrdersExt;
        let request = self.client.raw_margin().create_margin_order();
        match order.to_request() {
            Ok(body) => request.body(body),
            Err(refused) => request.body(Refused(refused)),
        }
    }
}

resource_group! {
    /// Margin order groups: contract limits shared by a set of orders.
    MarginOrderGroups => Margin.order_groups in margin {
        /// Creates a group.
        ///
        /// `POST /margin/order_groups/create`
        create() => create_margin_order_group: CreateMarginOrderGroup;
        /// One group.
        ///
        /// `GET /margin/order_groups/{order_group_id}`
        get(order_group_id) => get_margin_order_group: GetMarginOrderGroup;
        /// The account's groups.
        ///
        /// `GET /margin/order_groups`
        list() => get_margin_order_groups: GetMarginOrderGroups;
        /// Deletes a group, canceling its orders.
        ///
        /// `DELETE /margin/order_groups/{order_group_id}`
        delete(order_group_id) => delete_margin_order_group: DeleteMarginOrderGroup;
        /// Resets a group's matched-contract counter.
        ///
        /// `PUT /margin/order_groups/{order_group_id}/reset`
        reset(order_group_id) => reset_margin_order_group: ResetMarginOrderGroup;
        /// Triggers a group: cancels its orders as if its limit were hit.
        ///
        /// `PUT /margin/order_groups/{order_group_id}/trigger`
        trigger(order_group_id) => trigger_margin_order_group: TriggerMarginOrderGroup;
        /// Changes a group's contract limit.
        ///
        /// `PUT /margin/order_groups/{order_group_id}/limit`
        update_limit(order_group_id) => update_margin_order_group_limit: UpdateMarginOrderGroupLimit;
    }
}

resource_group! {
    /// Margin balance, positions, fills, subaccounts and transfers.
    MarginPortfolio => Margin.portfolio in margin {
        /// Balance per subaccount.
        ///
        /// `GET /margin/balance`
        balance() => get_margin_balance: GetMarginBalance;
        /// Open positions.
        ///
        /// `GET /margin/positions`
        positions() => get_margin_positions: GetMarginPositions;
        /// Fills (cursor-paginated).
        ///
        /// `GET /margin/fills`
        fills() => get_margin_fills: GetMarginFills;
        /// Creates a margin subaccount.
        ///
        /// `POST /portfolio/margin/subaccounts`
        create_subaccount() => create_margin_subaccount: CreateMarginSubaccount;
        /// Moves cash between margin subaccounts.
        ///
        /// `POST /portfolio/margin/subaccounts/transfer`
        transfer_between_subaccounts() => apply_margin_subaccount_transfer: ApplyMarginSubaccountTransfer;
        /// Moves cash between the event-contract and margin exchanges.
        ///
        /// `POST /portfolio/intra_exchange_instance_transfer`
        transfer_between_exchanges() => intra_exchange_instance_transfer: IntraExchangeInstanceTransfer;
    }
}

resource_group! {
    /// Margin risk: the account's figures, the exchange's parameters, and
    /// notional limits.
    MarginRisk => Margin.risk in margin {
        /// The account's margin usage, leverage and positions at risk.
        ///
        /// `GET /margin/risk`
        account() => get_margin_risk: GetMarginRisk;
        /// The exchange's margin parameters.
        ///
        /// `GET /margin/risk_parameters`
        parameters() => get_margin_risk_parameters: GetMarginRiskParameters;
        /// The account's notional risk limits and their use.
        ///
        /// `GET /margin/notional_risk_limit`
        notional_limit() => get_margin_notional_risk_limit: GetMarginNotionalRiskLimit;
    }
}

resource_group! {
    /// Margin fee schedules.
    MarginFees => Margin.fees in margin {
        /// The fee tiers.
        ///
        /// `GET /margin/fee_tiers`
        tiers() => get_margin_fee_tiers: GetMarginFeeTiers;
        /// The fee rates of the account's tier.
        ///
        /// `GET /margin/fee_tier_rates`
        tier_rates() => get_margin_fee_tier_rates: GetMarginFeeTierRates;
    }
}

resource_group! {
    /// Funding: rates, their estimate and premium index, and the account's
    /// payments.
    MarginFunding => Margin.funding in margin {
        /// The account's funding payments.
        ///
        /// `GET /margin/funding_history`
        history() => get_margin_funding_history: GetMarginFundingHistory;
        /// Past funding rates.
        ///
        /// `GET /margin/funding_rates/historical`
        rates() => get_margin_historical_funding_rates: GetMarginHistoricalFundingRates;
        /// The current period's estimated rate.
        ///
        /// `GET /margin/funding_rates/estimate`
        estimate() => get_margin_funding_rate_estimate: GetMarginFundingRateEstimate;
        /// The premium index behind the rate.
        ///
        /// `GET /margin/funding_rates/premium_index`
        premium_index() => get_margin_premium_index: GetMarginPremiumIndex;
    }
}

resource_group! {
    /// Stop-loss, take-profit and trailing-stop triggers on positions, cross
    /// and isolated.
    MarginExitTriggers => Margin.exit_triggers in margin {
        /// The triggers on a cross-margin position.
        ///
        /// `GET /margin/cross/positions/{ticker}/exit_trigger`
        cross(ticker) => get_cross_margin_exit_triggers: GetCrossMarginExitTriggers;
        /// Removes the triggers of a cross-margin position.
        ///
        /// `DELETE /margin/cross/positions/{ticker}/exit_trigger`
        delete_cross(ticker) => delete_cross_margin_exit_trigger: DeleteCrossMarginExitTrigger;
        /// Removes one trigger of a cross-margin position.
        ///
        /// `DELETE /margin/cross/positions/{ticker}/exit_trigger/{trigger_id}`
        delete_cross_by_id(ticker, trigger_id) => delete_cross_margin_exit_trigger_by_id: DeleteCrossMarginExitTriggerById;
        /// The triggers on an isolated-margin position.
        ///
        /// `GET /margin/isolated/positions/{ticker}/exit_trigger`
        isolated(ticker) => get_isolated_margin_exit_triggers: GetIsolatedMarginExitTriggers;
        /// Removes the trigger of an isolated-margin position.
        ///
        /// `DELETE /margin/isolated/positions/{ticker}/exit_trigger`
        delete_isolated(ticker) => delete_isolated_margin_exit_trigger: DeleteIsolatedMarginExitTrigger;
        @typed {
            set_cross => SetCrossMarginExitTrigger;
            update_cross => UpdateCrossMarginExitTrigger;
            set_isolated => SetIsolatedMarginExitTrigger;
        }
    }
}

impl<'a> MarginExitTriggers<'a> {
    /// Sets a trigger on a cross-margin position: on the whole position
    /// (replacing its trigger), or appended for a count or an anchor order
    /// under its idempotency key.
    ///
    /// `PUT /margin/cross/positions/{ticker}/exit_trigger`
    #[must_use = "a request does nothing until it is sent with .send().await"]
    pub fn set_cross(
        &self,
        ticker: impl Into<String>,
        trigger: &CrossExitTrigger,
    ) -> kalshi_gen_margin::builder::SetCrossMarginExitTrigger<'a> {
        use kalshi_gen_margin::ClientExitTriggersExt;
        let request = self
            .client
            .raw_margin()
            .set_cross_margin_exit_trigger()
            .ticker(ticker.into());
        match trigger.to_request() {
            Ok(body) => request.body(body),
            Err(refused) => request.body(Refused(refused)),
        }
    }

    /// Changes the legs of one cross-margin bracket trigger (a leg left out
    /// is cleared).
    ///
    /// `PUT /margin/cross/positions/{ticker}/exit_trigger/{trigger_id}`
    #[must_use = "a request does nothing until it is sent with .send().await"]
    pub fn update_cross(
        &self,
        ticker: impl Into<String>,
        trigger_id: impl Into<String>,
        bracket: Bracket,
    ) -> kalshi_gen_margin::builder::UpdateCrossMarginExitTrigger<'a> {
        use kalshi_gen_margin::ClientExitTriggersExt;
        let request = self
            .client
            .raw_margin()
            .update_cross_margin_exit_trigger()
            .ticker(ticker.into())
            .trigger_id(trigger_id.into());
        match bracket.to_update_request() {
            Ok(body) => request.body(body),
            Err(refused) => request.body(Refused(refused)),
        }
    }

    /// Sets the trigger of an isolated-margin position (replacing it).
    ///
    /// `PUT /margin/isolated/positions/{ticker}/exit_trigger`
    #[must_use = "a request does nothing until it is sent with .send().await"]
    pub fn set_isolated(
        &self,
        ticker: impl Into<String>,
        trigger: impl Into<ExitTrigger>,
    ) -> kalshi_gen_margin::builder::SetIsolatedMarginExitTrigger<'a> {
        use kalshi_gen_margin::ClientExitTriggersExt;
        let request = self
            .client
            .raw_margin()
            .set_isolated_margin_exit_trigger()
            .ticker(ticker.into());
        match trigger.into().to_isolated_request() {
            Ok(body) => request.body(body),
            Err(refused) => request.body(Refused(refused)),
        }
    }
}

resource_group! {
    /// FCM members: subtraders, their risk controls, notional limits.
    MarginFcm => Margin.fcm in margin {
        /// Creates a subtrader.
        ///
        /// `POST /margin/fcm/subtraders`
        create_subtrader() => create_margin_fcm_subtrader: CreateMarginFcmSubtrader;
        /// A subtrader's risk controls.
        ///
        /// `GET /margin/fcm/subtraders/risk_controls`
        risk_controls() => get_fcm_subtrader_risk_controls: GetFcmSubtraderRiskControls;
        /// Sets a subtrader's initial-margin cap.
        ///
        /// `PUT /margin/fcm/subtraders/risk_controls`
        update_risk_controls() => update_fcm_subtrader_risk_controls: UpdateFcmSubtraderRiskControls;
        /// Removes a subtrader's risk controls.
        ///
        /// `DELETE /margin/fcm/subtraders/risk_controls`
        delete_risk_controls() => delete_fcm_subtrader_risk_controls: DeleteFcmSubtraderRiskControls;
        /// Sets the notional risk limit.
        ///
        /// `PUT /margin/fcm/notional_risk_limit`
        update_notional_limit() => update_fcm_notional_risk_limit: UpdateFcmNotionalRiskLimit;
        /// Removes the notional risk limit.
        ///
        /// `DELETE /margin/fcm/notional_risk_limit`
        delete_notional_limit() => delete_fcm_notional_risk_limit: DeleteFcmNotionalRiskLimit;
    }
}

/// Every named margin method and the operation it reaches, for the test
/// that fails when an operation of the margin document has none.
pub fn margin_routes() -> impl Iterator<Item = &'static crate::resources::Route> {
    let groups: &[&[crate::resources::Route]] = &[
        Margin::ROUTES,
        MarginExchange::ROUTES,
        MarginMarkets::ROUTES,
        MarginOrders::ROUTES,
        MarginOrderGroups::ROUTES,
        MarginPortfolio::ROUTES,
        MarginRisk::ROUTES,
        MarginFees::ROUTES,
        MarginFunding::ROUTES,
        MarginExitTriggers::ROUTES,
        MarginFcm::ROUTES,
    ];
    groups.iter().flat_map(|routes| routes.iter())
}

impl Margin<'_> {
    /// The margin WebSocket streams of this client's environment (Kalshi's
    /// margin hosts, or the simulator's `/trade-api/ws/v2/margin`), with
    /// the same reconnects, resubscription and `seq` gap repair as
    /// [`crate::Client::stream`] and [`crate::stream::MarginBook`]s. An
    /// outage's fills and orders are not read back over REST here
    /// (`recover_fills` and `recover_orders` are event-contract streams'
    /// only), so reconcile a margin account's fills and orders over
    /// REST on [`Event::Resubscribed`](crate::stream::Event::Resubscribed).
    pub fn stream(&self) -> crate::stream::StreamBuilder<crate::stream::Margin> {
        crate::stream::StreamBuilder::new(self.client)
    }
}
