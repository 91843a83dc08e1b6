//! Search: tags and filters for browsing series.
use crate::resources::resource_group;

resource_group! {
    /// Search: the tags and sport filters used to browse series.
    Search => search {
        /// Tags per series category, for filtering series.
        ///
        /// `GET /search/tags_by_categories`
        tags_by_categories() => get_tags_for_series_categories: GetTagsForSeriesCategories;
        /// Filters (scopes, competitions) per sport, and the sports in
        /// display order.
        ///
        /// `GET /search/filters_by_sport`
        filters_by_sport() => get_filters_for_sports: GetFiltersForSports;
    }
}
