//! Portfolio: balance, positions, fills, settlements and money movements.
use crate::resources::resource_group;
use crate::transfer::ExchangeTransfer;

resource_group! {
    /// Portfolio: balance, positions, fills, settlements, deposits,
    /// withdrawals and transfers between exchange shards.
    Portfolio => portfolio {
        /// Available balance and portfolio value, across exchange indexes
        /// unless one is given.
        ///
        /// `GET /portfolio/balance`
        balance() => get_balance: GetBalance [subaccount];
        /// Market and event positions (cursor-paginated: `.page()` / `.stream()`).
        ///
        /// `GET /portfolio/positions`
        positions() => get_positions: GetPositions [subaccount];
        /// Your fills, i.e. executions of your orders (cursor-paginated:
        /// `.page()` / `.stream()`).
        ///
        /// `GET /portfolio/fills`
        fills() => get_fills: GetFills [subaccount];
        /// Settlements of markets you held positions in (cursor-paginated:
        /// `.page()` / `.stream()`).
        ///
        /// `GET /portfolio/settlements`
        settlements() => get_settlements: GetSettlements [subaccount];
        /// Total value of resting orders, in cents; meant for FCM members.
        ///
        /// `GET /portfolio/summary/total_resting_order_value`
        resting_order_value() => get_portfolio_resting_order_total_value: GetPortfolioRestingOrderTotalValue;
        /// Deposit history (cursor-paginated: `.page()` / `.stream()`).
        ///
        /// `GET /portfolio/deposits`
        deposits() => get_deposits: GetDeposits;
        /// Withdrawal history (cursor-paginated: `.page()` / `.stream()`).
        ///
        /// `GET /portfolio/withdrawals`
        withdrawals() => get_withdrawals: GetWithdrawals;
        /// History of transfers within the account between exchange shards
        /// (cursor-paginated: `.page()` / `.stream()`).
        ///
        /// `GET /portfolio/intra_exchange_instance_transfers`
        exchange_transfers() => get_intra_exchange_instance_transfers: GetIntraExchangeInstanceTransfers;
        /// One intra-account transfer by id.
        ///
        /// `GET /portfolio/intra_exchange_instance_transfers/{transfer_id}`
        exchange_transfer(transfer_id) => get_intra_exchange_instance_transfer: GetIntraExchangeInstanceTransfer;
        /// The target split of your balance across exchange indexes.
        ///
        /// `GET /portfolio/target_balance_allocation`
        target_balance_allocation() => get_target_balance_allocation: GetTargetBalanceAllocation;
        /// Replaces the target balance split across exchange indexes
        /// (percentages total 100; empty disables rebalancing).
        ///
        /// `POST /portfolio/target_balance_allocation`
        set_target_balance_allocation() => set_target_balance_allocation: SetTargetBalanceAllocation;
        @typed {
            transfer_between_exchanges => IntraExchangeInstanceTransfer;
        }
    }
}

impl<'a> Portfolio<'a> {
    /// Moves funds within the account, between exchange instances, shards
    /// and/or subaccounts; cross-shard steps are not atomic.
    ///
    /// The request carries the transfer's `client_transfer_id` (see
    /// [`ExchangeTransfer`]), so retries of it, and a resend of the same
    /// `ExchangeTransfer`, cannot move the funds twice: Kalshi answers a
    /// repeated id with 409, [`Error::Conflict`](crate::Error::Conflict).
    ///
    /// `POST /portfolio/intra_exchange_instance_transfer`
    #[must_use = "a request does nothing until it is sent with .send().await"]
    pub fn transfer_between_exchanges(
        &self,
        transfer: &ExchangeTransfer,
    ) -> kalshi_gen::builder::IntraExchangeInstanceTransfer<'a> {
        use kalshi_gen::ClientPortfolioExt as _;
        self.client
            .raw()
            .intra_exchange_instance_transfer()
            .body(transfer.to_request())
    }
}
