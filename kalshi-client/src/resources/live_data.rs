//! Live data: game state, event data series and weather indexes.
use crate::resources::resource_group;

resource_group! {
    /// Live data: the state of milestones (scores, game stats), event-keyed
    /// series (prices, observations) and weather indexes.
    LiveData => live_data {
        /// Live data for a milestone through the legacy typed path; prefer
        /// [`by_milestone`](Self::by_milestone).
        ///
        /// `GET /live_data/{type}/milestone/{milestone_id}`
        get(type_, milestone_id) => get_live_data: GetLiveData;
        /// Live data for a milestone.
        ///
        /// `GET /live_data/milestone/{milestone_id}`
        by_milestone(milestone_id) => get_live_data_by_milestone: GetLiveDataByMilestone;
        /// Live data for several milestones in one request.
        ///
        /// `GET /live_data/batch`
        batch() => get_live_datas: GetLiveDatas;
        /// Play-by-play game statistics for a sports milestone.
        ///
        /// `GET /live_data/milestone/{milestone_id}/game_stats`
        game_stats(milestone_id) => get_game_stats: GetGameStats;
        /// Event-keyed live data, such as price charts and weather
        /// observations.
        ///
        /// `GET /live_data/events/{event_ticker}`
        event(event_ticker) => get_event_live_data: GetEventLiveData;
        /// A city's minute-resolution temperature index, the series behind
        /// hourly temperature markets.
        ///
        /// `GET /live_data/weather/{city}`
        weather_index(city) => get_weather_index: GetWeatherIndex;
        /// The configuration and calibration history of a city's weather
        /// index, enough to reproduce its values.
        ///
        /// `GET /live_data/weather/{city}/calibrations`
        weather_calibrations(city) => get_weather_index_calibrations: GetWeatherIndexCalibrations;
    }
}
