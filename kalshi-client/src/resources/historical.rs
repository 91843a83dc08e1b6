//! Historical: data archived past the historical cutoff.
use crate::resources::resource_group;

resource_group! {
    /// Historical: markets, candlesticks, trades and your fills, orders and
    /// positions archived before the historical cutoff.
    Historical => historical {
        /// The timestamps separating live data from historical data, to know
        /// which endpoints hold a record.
        ///
        /// `GET /historical/cutoff`
        cutoff() => get_historical_cutoff: GetHistoricalCutoff;
        /// Archived markets matching the filters (cursor-paginated:
        /// `.page()` / `.stream()`).
        ///
        /// `GET /historical/markets`
        markets() => get_historical_markets: GetHistoricalMarkets;
        /// One archived market by ticker.
        ///
        /// `GET /historical/markets/{ticker}`
        market(ticker) => get_historical_market: GetHistoricalMarket;
        /// Candlesticks of an archived market.
        ///
        /// `GET /historical/markets/{ticker}/candlesticks`
        candlesticks(ticker) => get_market_candlesticks_historical: GetMarketCandlesticksHistorical;
        /// Your archived fills (cursor-paginated: `.page()` / `.stream()`).
        ///
        /// `GET /historical/fills`
        fills() => get_fills_historical: GetFillsHistorical [subaccount];
        /// Your archived orders (cursor-paginated: `.page()` / `.stream()`).
        ///
        /// `GET /historical/orders`
        orders() => get_historical_orders: GetHistoricalOrders [subaccount];
        /// Your archived settled positions (cursor-paginated: `.page()` /
        /// `.stream()`).
        ///
        /// `GET /historical/positions`
        positions() => get_historical_positions: GetHistoricalPositions [subaccount];
        /// Archived trades across markets (cursor-paginated: `.page()` /
        /// `.stream()`).
        ///
        /// `GET /historical/trades`
        trades() => get_trades_historical: GetTradesHistorical;
    }
}
