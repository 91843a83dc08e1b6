//! The simulator's catalog operations, end to end through Prism: seeded
//! reference data consistent between lists and gets, combos created and
//! traded, and the FCM reads over subtraders' real trades.

use futures_util::TryStreamExt;
use kalshi_client::generated::types;
use kalshi_client::order::{NewOrder, Price, Quantity, TimeInForce};
use kalshi_client::{Client, Error, Execute, Paginate};
use kalshi_sim::engine;
use kalshi_sim::{Account, SimConfig, Simulator};
use kalshi_tests::keys::TestKey;
use kalshi_tests::prism::Prism;
use rust_decimal::Decimal;

use crate::support::{client, dec, json};

struct Stack {
    sim: Simulator,
    prism: Prism,
    alice: Client,
    bob: Client,
}

async fn stack() -> Stack {
    let config = SimConfig::new()
        .account(Account::with_public_key(
            "alice",
            "alice-key",
            TestKey::rsa().public_key(),
        ))
        .account(Account::with_public_key(
            "bob",
            "bob-key",
            TestKey::ed25519().public_key(),
        ));
    let sim = Simulator::start(config).await.unwrap();
    let prism = Prism::start(&sim.origin()).await.unwrap();
    let base = prism.base_url();
    Stack {
        alice: client(&base, "alice-key", TestKey::rsa()),
        bob: client(&base, "bob-key", TestKey::ed25519()),
        sim,
        prism,
    }
}

#[tokio::test]
async fn milestones_list_and_get_agree_and_filters_narrow() {
    let Stack {
        sim: _sim,
        prism,
        alice,
        ..
    } = stack().await;
    let milestones = alice.milestones();
    let all = milestones
        .list()
        .limit(100)
        .send()
        .await
        .unwrap()
        .milestones;
    assert_eq!(all.len(), 4);
    assert!(all.windows(2).all(|w| w[0].start_date <= w[1].start_date));
    for listed in &all {
        let fetched = milestones.get(&listed.id).send().await.unwrap().milestone;
        assert_eq!(json(&fetched), json(listed));
        // Every event a milestone names is a listed event.
        for event in &listed.related_event_tickers {
            alice.events().get(event).send().await.unwrap();
        }
    }
    let titles = |ms: Vec<types::Milestone>| ms.into_iter().map(|m| m.type_).collect::<Vec<_>>();
    let sports = milestones
        .list()
        .limit(100)
        .category("Sports")
        .send()
        .await
        .unwrap()
        .milestones;
    assert_eq!(sports.len(), 3);
    let football = milestones
        .list()
        .limit(100)
        .type_("football_game")
        .send()
        .await
        .unwrap()
        .milestones;
    assert_eq!(titles(football), ["football_game"]);
    let related = milestones
        .list()
        .limit(100)
        .related_event_ticker("KXTEST-27JUN30")
        .send()
        .await
        .unwrap()
        .milestones;
    assert_eq!(titles(related), ["basketball_game"]);
    let hockey = milestones
        .list()
        .limit(100)
        .competition("Pro Hockey")
        .send()
        .await
        .unwrap()
        .milestones;
    assert_eq!(titles(hockey), ["hockey_match"]);
    let later = milestones
        .list()
        .limit(100)
        .minimum_start_date(
            "2026-12-01T00:00:00Z"
                .parse::<chrono::DateTime<chrono::Utc>>()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .milestones;
    assert_eq!(titles(later), ["football_game", "political_race"]);
    let first = milestones.list().limit(3).send().await.unwrap();
    assert_eq!(first.milestones.len(), 3);
    let rest = milestones
        .list()
        .limit(3)
        .cursor(first.cursor.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(rest.milestones.len(), 1);
    assert_eq!(rest.milestones[0].id, all[3].id);
    let unknown = milestones
        .get("no-such-milestone")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(unknown, Error::NotFound(_)), "{unknown:?}");
    prism.assert_clean();
}

#[tokio::test]
async fn live_data_and_game_stats_belong_to_milestones() {
    let Stack {
        sim: _sim,
        prism,
        alice,
        ..
    } = stack().await;
    let all = alice
        .milestones()
        .list()
        .limit(100)
        .send()
        .await
        .unwrap()
        .milestones;
    let id_of = |kind: &str| all.iter().find(|m| m.type_ == kind).unwrap().id.clone();
    let (football, basketball, election) = (
        id_of("football_game"),
        id_of("basketball_game"),
        id_of("political_race"),
    );
    let live = alice.live_data();

    let by_milestone = live
        .by_milestone(&basketball)
        .send()
        .await
        .unwrap()
        .live_data;
    assert_eq!(by_milestone.milestone_id, basketball);
    assert_eq!(by_milestone.details["status"], "final");
    let typed = live
        .get("basketball_game", &basketball)
        .send()
        .await
        .unwrap()
        .live_data;
    assert_eq!(json(&typed), json(&by_milestone));
    let wrong_type = live
        .get("football_game", &basketball)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(wrong_type, Error::NotFound(_)), "{wrong_type:?}");
    let none = live.by_milestone(&election).send().await.unwrap_err();
    assert!(matches!(none, Error::NotFound(_)), "{none:?}");
    let with_players = live
        .by_milestone(&football)
        .include_player_stats(true)
        .send()
        .await
        .unwrap()
        .live_data;
    assert!(with_players.details.contains_key("player_stats"));

    let batch = live
        .batch()
        .milestone_ids(vec![
            football.clone(),
            basketball.clone(),
            election.clone(),
            "unknown".to_owned(),
        ])
        .send()
        .await
        .unwrap()
        .live_datas;
    let ids: Vec<&str> = batch.iter().map(|d| d.milestone_id.as_str()).collect();
    assert_eq!(ids, [football.as_str(), basketball.as_str()]);

    // The play by play adds up to the final score.
    let stats = live.game_stats(&basketball).send().await.unwrap();
    let periods = stats.pbp.unwrap().periods;
    assert_eq!(periods.len(), 4);
    let points_of = |team: &serde_json::Value| -> u64 {
        periods
            .iter()
            .flat_map(|p| &p.events)
            .filter(|e| e["team"] == *team)
            .map(|e| e["points"].as_u64().unwrap())
            .sum()
    };
    let details = &by_milestone.details;
    assert_eq!(
        points_of(&details["home_team"]),
        details["home_points"].as_u64().unwrap()
    );
    assert_eq!(
        points_of(&details["away_team"]),
        details["away_points"].as_u64().unwrap()
    );
    assert!(
        live.game_stats(&election)
            .send()
            .await
            .unwrap()
            .pbp
            .is_none()
    );
    let unknown = live.game_stats("unknown").send().await.unwrap_err();
    assert!(matches!(unknown, Error::NotFound(_)), "{unknown:?}");
    prism.assert_clean();
}

#[tokio::test]
async fn weather_live_data_is_the_weather_index() {
    let Stack {
        sim: _sim,
        prism,
        alice,
        ..
    } = stack().await;
    let live = alice.live_data();
    let event = live
        .event("KXHIGHNY-26NOV30")
        .send()
        .await
        .unwrap()
        .live_data;
    let observed = |data: &types::EventLiveData| -> Vec<(i64, f64)> {
        data.details["observations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| (o["t"].as_i64().unwrap(), o["temp_f"].as_f64().unwrap()))
            .collect()
    };
    let observations = observed(&event);
    // Nov 30 in New York, every 15 minutes: the NYC index's own values.
    let day_start = "2026-11-30T05:00:00Z"
        .parse::<chrono::DateTime<chrono::Utc>>()
        .unwrap()
        .timestamp_millis();
    let index = live
        .weather_index("nyc")
        .from(day_start)
        .to(day_start + 86_400_000 - 1)
        .send()
        .await
        .unwrap();
    assert_eq!(index.units, "fahrenheit");
    assert!(index.timeseries.windows(2).all(|w| w[0].t < w[1].t));
    let quarters: Vec<(i64, f64)> = index
        .timeseries
        .iter()
        .filter(|p| (p.t - day_start) % 900_000 == 0)
        .map(|p| (p.t, p.v.unwrap()))
        .collect();
    assert!(quarters.len() > 90, "{}", quarters.len());
    assert_eq!(observations, quarters);
    let last_hour = live
        .event("KXHIGHNY-26NOV30")
        .range("1h")
        .send()
        .await
        .unwrap()
        .live_data;
    assert_eq!(observed(&last_hour), observations[observations.len() - 4..]);
    let none = live.event("KXTEST-26DEC31").send().await.unwrap_err();
    assert!(matches!(none, Error::NotFound(_)), "{none:?}");

    // The last ten minutes, audited: every station, the open minute last.
    let recent = live
        .weather_index("nyc")
        .last_sec(600)
        .detailed(true)
        .send()
        .await
        .unwrap();
    let points = &recent.timeseries;
    assert!((8..=11).contains(&points.len()), "{}", points.len());
    assert!(
        points
            .iter()
            .all(|p| p.t % 60_000 == 0 && !p.stations.is_empty())
    );
    let open = points.last().unwrap();
    assert_eq!((open.status.as_str(), open.v), ("incomplete", None));
    let calibrations = live.weather_calibrations("nyc").send().await.unwrap();
    assert_eq!(calibrations.units, "celsius");
    let newest = calibrations.calibrations.last().unwrap();
    assert!(
        calibrations
            .calibrations
            .windows(2)
            .all(|w| w[0].effective_at_ms < w[1].effective_at_ms)
    );
    assert_eq!(
        recent.config_version.as_deref(),
        Some(newest.config_version.as_str())
    );

    let unpaired = live
        .weather_index("nyc")
        .from(day_start)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(unpaired, Error::BadRequest(_)), "{unpaired:?}");
    let too_long = live
        .weather_index("nyc")
        .from(day_start)
        .to(day_start + 8 * 86_400_000)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(too_long, Error::BadRequest(_)), "{too_long:?}");
    let unknown = live
        .weather_calibrations("atlantis")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(unknown, Error::BadRequest(_)), "{unknown:?}");
    prism.assert_clean();
}

#[tokio::test]
async fn structured_targets_and_incentives_honour_their_filters() {
    let Stack {
        sim: _sim,
        prism,
        alice,
        ..
    } = stack().await;
    let targets = alice.structured_targets();
    let all = targets.list().send().await.unwrap().structured_targets;
    assert_eq!(all.len(), 4);
    for listed in &all {
        let id = listed.id.clone().unwrap();
        let fetched = targets.get(&id).send().await.unwrap().structured_target;
        assert_eq!(json(&fetched), json(&Some(listed)));
    }
    let names = |ts: Vec<types::StructuredTarget>| {
        ts.into_iter().filter_map(|t| t.name).collect::<Vec<_>>()
    };
    let liv = targets.list().competition("LIV").send().await.unwrap();
    assert_eq!(names(liv.structured_targets), ["Pat Putter"]);
    let teams = targets.list().type_("football_team").send().await.unwrap();
    assert_eq!(names(teams.structured_targets), ["Test Town Testers"]);
    let two_ids = vec![all[0].id.clone().unwrap(), all[2].id.clone().unwrap()];
    let by_ids = targets.list().ids(two_ids).send().await.unwrap();
    assert_eq!(json(&by_ids.structured_targets), json(&[&all[0], &all[2]]));
    let paged: Vec<types::StructuredTarget> = targets
        .list()
        .page_size(1)
        .stream(None)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(json(&paged), json(&all));
    let unknown = targets.get("nope").send().await.unwrap_err();
    assert!(matches!(unknown, Error::NotFound(_)), "{unknown:?}");

    let incentives = alice.incentive_programs();
    let every = incentives.list().send().await.unwrap().incentive_programs;
    assert_eq!(every.len(), 4);
    let paid = incentives
        .list()
        .status(types::GetIncentiveProgramsStatus::PaidOut)
        .send()
        .await
        .unwrap()
        .incentive_programs;
    assert_eq!(paid.len(), 1);
    assert!(paid[0].paid_out);
    let now = chrono::Utc::now();
    let active = incentives
        .list()
        .status(types::GetIncentiveProgramsStatus::Active)
        .send()
        .await
        .unwrap()
        .incentive_programs;
    assert!(
        active
            .iter()
            .all(|p| !p.paid_out && p.start_date <= now && now < p.end_date)
    );
    let volume = incentives
        .list()
        .type_(types::GetIncentiveProgramsType::Volume)
        .send()
        .await
        .unwrap()
        .incentive_programs;
    assert_eq!(volume.len(), 2);
    let described = incentives
        .list()
        .incentive_description(every[0].incentive_description.clone())
        .send()
        .await
        .unwrap()
        .incentive_programs;
    assert!(
        described
            .iter()
            .all(|p| p.incentive_description == every[0].incentive_description)
    );
    // Every program is on a listed market.
    for program in &every {
        alice
            .markets()
            .get(&program.market_ticker)
            .send()
            .await
            .unwrap();
    }
    prism.assert_clean();
}

fn leg(market: &str, event: &str, side: types::TickerPairSide) -> types::TickerPair {
    types::TickerPair::builder()
        .market_ticker(market.to_owned())
        .event_ticker(event.to_owned())
        .side(side)
        .try_into()
        .unwrap()
}

#[tokio::test]
async fn a_market_created_in_a_collection_is_listed_and_trades() {
    let Stack {
        sim: _sim,
        prism,
        alice,
        bob,
    } = stack().await;
    let mv = alice.multivariate();
    let all = mv
        .collections()
        .send()
        .await
        .unwrap()
        .multivariate_contracts;
    assert_eq!(all.len(), 3);
    let tickers = |cs: Vec<types::MultivariateEventCollection>| {
        cs.into_iter()
            .map(|c| c.collection_ticker)
            .collect::<Vec<_>>()
    };
    let closed = mv
        .collections()
        .status(types::GetMultivariateEventCollectionsStatus::Closed)
        .send()
        .await
        .unwrap();
    assert_eq!(tickers(closed.multivariate_contracts), ["KXMVEOLDTEST"]);
    let weather = mv
        .collections()
        .associated_event_ticker("KXHIGHNY-26NOV30")
        .send()
        .await
        .unwrap();
    assert_eq!(tickers(weather.multivariate_contracts), ["KXMVEHIGHNY"]);
    let one = mv
        .collection("KXMVETEST")
        .send()
        .await
        .unwrap()
        .multivariate_contract;
    assert_eq!(
        one.associated_event_tickers,
        ["KXTEST-26DEC31", "KXTEST-27JUN30"]
    );

    let legs = vec![
        leg(
            "KXTEST-27JUN30-YES",
            "KXTEST-27JUN30",
            types::TickerPairSide::No,
        ),
        leg(
            "KXTEST-26DEC31-YES",
            "KXTEST-26DEC31",
            types::TickerPairSide::Yes,
        ),
    ];
    let request = types::CreateMarketInMultivariateEventCollectionRequest::builder()
        .selected_markets(legs.clone())
        .with_market_payload(Some(true));
    let created = mv
        .create_market("KXMVETEST")
        .body(request.clone())
        .send()
        .await
        .unwrap();
    let market = created.market.clone().unwrap();
    assert_eq!(market.ticker, created.market_ticker);
    assert_eq!(market.mve_collection_ticker.as_deref(), Some("KXMVETEST"));
    assert_eq!(market.mve_selected_legs.len(), 2);
    // The same selection, in any order, names the same market.
    let again = mv
        .create_market("KXMVETEST")
        .body(
            types::CreateMarketInMultivariateEventCollectionRequest::builder()
                .selected_markets(legs.into_iter().rev().collect::<Vec<_>>()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        (&again.event_ticker, &again.market_ticker),
        (&created.event_ticker, &created.market_ticker)
    );

    let events = alice
        .events()
        .multivariate()
        .collection_ticker("KXMVETEST")
        .with_nested_markets(true)
        .send()
        .await
        .unwrap()
        .events;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_ticker, created.event_ticker);
    assert_eq!(events[0].markets[0].ticker, created.market_ticker);
    let elsewhere = alice
        .events()
        .multivariate()
        .collection_ticker("KXMVEHIGHNY")
        .send()
        .await
        .unwrap()
        .events;
    assert!(elsewhere.is_empty());
    let listed = alice
        .markets()
        .get(&created.market_ticker)
        .send()
        .await
        .unwrap()
        .market;
    assert_eq!(listed.event_ticker, created.event_ticker);

    // It trades like any market.
    let price: Price = "0.20".parse().unwrap();
    alice
        .orders()
        .create(&NewOrder::buy_yes(
            &created.market_ticker,
            Quantity::contracts(2).unwrap(),
            price,
        ))
        .send()
        .await
        .unwrap();
    let sold = bob
        .orders()
        .create(
            &NewOrder::sell_yes(
                &created.market_ticker,
                Quantity::contracts(2).unwrap(),
                price,
            )
            .time_in_force(TimeInForce::ImmediateOrCancel),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(sold.fill_count.value(), dec("2"));

    // An RFQ on the combo names its collection and legs.
    let rfq_id = alice
        .communications()
        .create_rfq()
        .body(
            types::CreateRfqRequest::builder()
                .market_ticker(created.market_ticker.clone())
                .contracts_fp(Some("1".parse().unwrap()))
                .rest_remainder(false),
        )
        .send()
        .await
        .unwrap()
        .id;
    let rfq = bob.communications().rfq(&rfq_id).send().await.unwrap().rfq;
    assert_eq!(rfq.mve_collection_ticker.as_deref(), Some("KXMVETEST"));
    assert_eq!(
        json(&rfq.mve_selected_legs),
        json(&market.mve_selected_legs)
    );

    // The collections' rules hold.
    let no_side =
        mv.create_market("KXMVEHIGHNY")
            .body(
                types::CreateMarketInMultivariateEventCollectionRequest::builder()
                    .selected_markets(vec![
                        leg(
                            "KXHIGHNY-26NOV30-B45",
                            "KXHIGHNY-26NOV30",
                            types::TickerPairSide::No,
                        ),
                        leg(
                            "KXTEST-26DEC31-YES",
                            "KXTEST-26DEC31",
                            types::TickerPairSide::Yes,
                        ),
                    ]),
            )
            .send()
            .await
            .unwrap_err();
    assert!(matches!(no_side, Error::BadRequest(_)), "{no_side:?}");
    let too_few =
        mv.create_market("KXMVETEST")
            .body(
                types::CreateMarketInMultivariateEventCollectionRequest::builder()
                    .selected_markets(vec![leg(
                        "KXTEST-26DEC31-YES",
                        "KXTEST-26DEC31",
                        types::TickerPairSide::Yes,
                    )]),
            )
            .send()
            .await
            .unwrap_err();
    assert!(matches!(too_few, Error::BadRequest(_)), "{too_few:?}");
    let closed = mv
        .create_market("KXMVEOLDTEST")
        .body(request)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(closed, Error::BadRequest(_)), "{closed:?}");
    prism.assert_clean();
}

/// Places an order for a subtrader, as its FCM's own systems would.
fn place_for(sim: &Simulator, subtrader: &str, side: engine::Side, price: &str, count: u32) {
    sim.with_engine(|e| {
        e.place(engine::NewOrder {
            owner: engine::Owner {
                user_id: subtrader.to_owned(),
                subaccount: 0,
            },
            ticker: "KXTEST-26DEC31-YES".to_owned(),
            side,
            price: dec(price),
            count: Decimal::from(count),
            client_order_id: format!("{subtrader}-{price}-{count}"),
            time_in_force: engine::TimeInForce::GoodTillCanceled,
            self_trade_prevention: engine::SelfTradePrevention::TakerAtCross,
            post_only: false,
            reduce_only: false,
            order_group_id: None,
            expiration_ts: None,
        })
        .unwrap();
    });
}

#[tokio::test]
async fn fcm_reads_follow_the_subtraders_trades() {
    let Stack {
        sim,
        prism,
        alice,
        bob,
    } = stack().await;
    let fcm = alice.fcm();
    let created = fcm
        .create_subtrader()
        .body(types::CreateFcmSubtraderRequest::builder().subtrader_suffix("S1".to_owned()))
        .send()
        .await
        .unwrap();
    let sub = created.subtrader_id;
    assert_eq!(sub, "alice_S1");
    let twice = fcm
        .create_subtrader()
        .body(types::CreateFcmSubtraderRequest::builder().subtrader_suffix("S1".to_owned()))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(twice, Error::Conflict(_)), "{twice:?}");
    let listed = fcm.subtraders().send().await.unwrap().subtraders;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].subtrader_id, sub);
    assert!(
        bob.fcm()
            .subtraders()
            .send()
            .await
            .unwrap()
            .subtraders
            .is_empty()
    );

    // The subtrader bids 5 at 0.40; Bob sells it 3.
    sim.deposit(&sub, 0, dec("100"));
    place_for(&sim, &sub, engine::Side::Bid, "0.40", 5);
    bob.orders()
        .create(
            &NewOrder::sell_yes(
                "KXTEST-26DEC31-YES",
                Quantity::contracts(3).unwrap(),
                "0.40".parse().unwrap(),
            )
            .time_in_force(TimeInForce::ImmediateOrCancel),
        )
        .send()
        .await
        .unwrap();

    let fills = fcm.fills().send().await.unwrap().fills;
    assert_eq!(fills.len(), 1);
    assert_eq!(fills[0].count_fp.value(), dec("3"));
    assert_eq!(fills[0].yes_price_dollars.value(), dec("0.40"));
    assert_eq!(fills[0].maker_subtrader_id.as_deref(), Some(sub.as_str()));
    assert_eq!(fills[0].taker_subtrader_id, None, "Bob is not Alice's");
    assert_eq!(fills[0].taker_outcome_side, types::OutcomeSide::No);
    assert!(bob.fcm().fills().send().await.unwrap().fills.is_empty());

    let orders = fcm
        .orders()
        .subtrader_id(sub.clone())
        .send()
        .await
        .unwrap()
        .orders;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].remaining_count_fp.value(), dec("2"));
    assert_eq!(
        fills[0].maker_order_id.as_deref(),
        Some(orders[0].order_id.as_str())
    );
    let executed = fcm
        .orders()
        .subtrader_id(sub.clone())
        .status(types::GetFcmOrdersStatus::Executed)
        .send()
        .await
        .unwrap()
        .orders;
    assert!(executed.is_empty());
    let by_client_id = fcm
        .orders()
        .client_order_ids(orders[0].client_order_id.clone())
        .send()
        .await
        .unwrap()
        .orders;
    assert_eq!(json(&by_client_id), json(&orders));
    let foreign = bob
        .fcm()
        .orders()
        .subtrader_id(sub.clone())
        .send()
        .await
        .unwrap_err();
    assert!(matches!(foreign, Error::Auth { .. }), "{foreign:?}");
    let unknown = fcm
        .orders()
        .subtrader_id("alice_NOPE")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(unknown, Error::NotFound(_)), "{unknown:?}");

    let positions = fcm
        .positions()
        .subtrader_id(sub.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(positions.market_positions.len(), 1);
    assert_eq!(positions.market_positions[0].position_fp.value(), dec("3"));
    let elsewhere = fcm
        .positions()
        .subtrader_id(sub.clone())
        .event_ticker("KXHIGHNY-26NOV30")
        .send()
        .await
        .unwrap();
    assert!(elsewhere.market_positions.is_empty());

    // The daily cap reports what the fills and the resting bid use.
    let missing = fcm
        .daily_cap()
        .subtrader_id(sub.clone())
        .send()
        .await
        .unwrap_err();
    assert!(matches!(missing, Error::NotFound(_)), "{missing:?}");
    fcm.set_daily_cap()
        .body(
            types::UpdateFcmEventContractDailyCapRequest::builder()
                .subtrader_id(sub.clone())
                .limit("250".parse::<kalshi_client::Dollars>().unwrap()),
        )
        .send()
        .await
        .unwrap();
    let cap = fcm
        .daily_cap()
        .subtrader_id(sub.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(cap.limit.value(), dec("250"));
    assert_eq!(cap.executed_utilization.value(), dec("1.20"));
    assert_eq!(cap.resting_order_utilization.value(), dec("0.80"));
    fcm.delete_daily_cap()
        .subtrader_id(sub.clone())
        .send()
        .await
        .unwrap();
    let gone = fcm
        .daily_cap()
        .subtrader_id(sub.clone())
        .send()
        .await
        .unwrap_err();
    assert!(matches!(gone, Error::NotFound(_)), "{gone:?}");

    // Blocked categories: a sorted set.
    let block = |category: &str, blocked: bool| {
        types::UpdateFcmSubtraderBlockedCategoriesRequest::builder()
            .subtrader_id(sub.clone())
            .category(category.to_owned())
            .blocked(blocked)
    };
    for category in ["Politics", "Climate and Weather"] {
        fcm.set_blocked_categories()
            .body(block(category, true))
            .send()
            .await
            .unwrap();
    }
    let after = fcm
        .set_blocked_categories()
        .body(block("Sports", false))
        .send()
        .await
        .unwrap();
    assert_eq!(after.categories, ["Climate and Weather", "Politics"]);
    fcm.set_blocked_categories()
        .body(block("Politics", false))
        .send()
        .await
        .unwrap();
    let read = fcm
        .blocked_categories()
        .subtrader_id(sub.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(read.categories, ["Climate and Weather"]);

    // A block trade for the subtrader lands in the FCM's reads too.
    let proposal = alice
        .communications()
        .propose_block_trade()
        .body(
            types::ProposeBlockTradeRequest::builder()
                .buyer_user_id("alice".to_owned())
                .buyer_subtrader_id(Some(sub.clone()))
                .seller_user_id("bob".to_owned())
                .market_ticker("KXTEST-26DEC31-YES".to_owned())
                .price_centi_cents(std::num::NonZeroU64::new(4_500).unwrap())
                .centicount(std::num::NonZeroU64::new(200).unwrap())
                .maker_side(types::ProposeBlockTradeRequestMakerSide::No)
                .expiration_ts(chrono::Utc::now() + chrono::Duration::hours(1)),
        )
        .send()
        .await
        .unwrap()
        .block_trade_proposal_id;
    bob.communications()
        .accept_block_trade_proposal(&proposal)
        .send()
        .await
        .unwrap();
    let fills = fcm.fills().send().await.unwrap().fills;
    assert_eq!(fills.len(), 2);
    assert_eq!(fills[0].taker_subtrader_id.as_deref(), Some(sub.as_str()));
    assert_eq!(fills[0].yes_price_dollars.value(), dec("0.45"));
    let positions = fcm.positions().subtrader_id(sub).send().await.unwrap();
    assert_eq!(positions.market_positions[0].position_fp.value(), dec("5"));
    prism.assert_clean();
}
