//! Multivariate event collections: combo markets.
use crate::resources::resource_group;

resource_group! {
    /// Multivariate event collections: the collections combo markets are
    /// created from.
    Multivariate => multivariate {
        /// Multivariate event collections matching the filters
        /// (cursor-paginated: `.page()` / `.stream()`).
        ///
        /// `GET /multivariate_event_collections`
        collections() => get_multivariate_event_collections: GetMultivariateEventCollections;
        /// One multivariate event collection by ticker.
        ///
        /// `GET /multivariate_event_collections/{collection_ticker}`
        collection(collection_ticker) => get_multivariate_event_collection: GetMultivariateEventCollection;
        /// Creates a market in a collection; needed once before the market can
        /// be traded or looked up.
        ///
        /// `POST /multivariate_event_collections/{collection_ticker}`
        create_market(collection_ticker) => create_market_in_multivariate_event_collection: CreateMarketInMultivariateEventCollection;
    }
}
