//! Markets: listings, order books, trades and candlesticks.
use crate::resources::resource_group;

resource_group! {
    /// Markets: listings, order books, trades and candlesticks.
    Markets => markets {
        /// Markets matching the filters (cursor-paginated: `.page()` / `.stream()`).
        ///
        /// `GET /markets`
        list() => get_markets: GetMarkets;
        /// One market by ticker: prices, volume, status and rules.
        ///
        /// `GET /markets/{ticker}`
        get(ticker) => get_market: GetMarket;
        /// A market's current order book (yes and no bids), optionally to a
        /// given depth.
        ///
        /// `GET /markets/{ticker}/orderbook`
        orderbook(ticker) => get_market_orderbook: GetMarketOrderbook;
        /// The current order books of several markets in one request.
        ///
        /// `GET /markets/orderbooks`
        orderbooks() => get_market_orderbooks: GetMarketOrderbooks;
        /// Completed trades across markets, optionally for one ticker
        /// (cursor-paginated: `.page()` / `.stream()`).
        ///
        /// `GET /markets/trades`
        trades() => get_trades: GetTrades;
        /// One market's price and volume candlesticks over a time range.
        ///
        /// `GET /series/{series_ticker}/markets/{ticker}/candlesticks`
        candlesticks(series_ticker, ticker) => get_market_candlesticks: GetMarketCandlesticks;
        /// Candlesticks for up to 100 markets in one request.
        ///
        /// `GET /markets/candlesticks`
        batch_candlesticks() => batch_get_market_candlesticks: BatchGetMarketCandlesticks;
    }
}
