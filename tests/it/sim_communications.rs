//! The simulator's communications operations, end to end through Prism:
//! RFQs, quotes on them and block trades, executed as real trades between
//! two accounts.

use futures_util::TryStreamExt;
use kalshi_client::generated::types;
use kalshi_client::{Client, Error, Execute, Paginate};
use kalshi_sim::{Account, SimConfig, Simulator};
use kalshi_tests::keys::TestKey;
use kalshi_tests::prism::Prism;
use rust_decimal::Decimal;

use crate::support::{client, dec};

const MARKET: &str = "KXTEST-26DEC31-YES";
const OTHER_MARKET: &str = "KXHIGHNY-26NOV30-B45";

/// Alice asks, Bob quotes, Carol looks on.
struct Stack {
    _sim: Simulator,
    prism: Prism,
    alice: Client,
    bob: Client,
    carol: Client,
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
        ))
        .account(Account::with_public_key(
            "carol",
            "carol-key",
            TestKey::rsa().public_key(),
        ));
    let sim = Simulator::start(config).await.unwrap();
    let prism = Prism::start(&sim.origin()).await.unwrap();
    let base = prism.base_url();
    Stack {
        alice: client(&base, "alice-key", TestKey::rsa()),
        bob: client(&base, "bob-key", TestKey::ed25519()),
        carol: client(&base, "carol-key", TestKey::rsa()),
        _sim: sim,
        prism,
    }
}

async fn create_rfq(client: &Client, market: &str, contracts: &str) -> String {
    client
        .communications()
        .create_rfq()
        .body(
            types::CreateRfqRequest::builder()
                .market_ticker(market.to_owned())
                .contracts_fp(Some(contracts.parse().unwrap()))
                .rest_remainder(false),
        )
        .send()
        .await
        .unwrap()
        .id
}

fn quote_request(rfq_id: &str, yes_bid: &str, no_bid: &str) -> types::builder::CreateQuoteRequest {
    types::CreateQuoteRequest::builder()
        .rfq_id(rfq_id.to_owned())
        .yes_bid(yes_bid.parse::<kalshi_client::Dollars>().unwrap())
        .no_bid(no_bid.parse::<kalshi_client::Dollars>().unwrap())
        .rest_remainder(false)
}

async fn create_quote(client: &Client, rfq_id: &str, yes_bid: &str, no_bid: &str) -> String {
    client
        .communications()
        .create_quote()
        .body(quote_request(rfq_id, yes_bid, no_bid))
        .send()
        .await
        .unwrap()
        .id
}

fn accept_body(side: types::AcceptQuoteRequestAcceptedSide) -> types::builder::AcceptQuoteRequest {
    types::AcceptQuoteRequest::builder().accepted_side(side)
}

async fn fills(client: &Client) -> Vec<types::Fill> {
    client
        .portfolio()
        .fills()
        .stream(None)
        .try_collect()
        .await
        .unwrap()
}

async fn position(client: &Client, ticker: &str) -> Decimal {
    client
        .portfolio()
        .positions()
        .send()
        .await
        .unwrap()
        .market_positions
        .iter()
        .find(|p| p.ticker == ticker)
        .map_or(Decimal::ZERO, |p| p.position_fp.value())
}

#[tokio::test]
async fn a_quote_accepted_and_confirmed_trades_between_the_two_accounts() {
    let Stack {
        _sim,
        prism,
        alice,
        bob,
        carol: _,
    } = stack().await;
    let alice_comms = alice.communications().id().send().await.unwrap();
    let rfq_id = create_rfq(&alice, MARKET, "10").await;

    // Bob, a maker, sees the RFQ with Alice's public id but not her account.
    let seen = bob.communications().rfq(&rfq_id).send().await.unwrap().rfq;
    assert_eq!(seen.creator_id, alice_comms.communications_id);
    assert_eq!(seen.status, types::RfqStatus::Open);
    assert_eq!(seen.contracts_fp.value(), dec("10"));
    assert_eq!(seen.creator_user_id, None);
    let own = alice
        .communications()
        .rfq(&rfq_id)
        .send()
        .await
        .unwrap()
        .rfq;
    assert_eq!(own.creator_user_id.as_deref(), Some("alice"));

    let quote_id = create_quote(&bob, &rfq_id, "0.40", "0.55").await;
    let on_mine = alice
        .communications()
        .quotes()
        .rfq_user_filter(types::UserFilter::Self_)
        .send()
        .await
        .unwrap()
        .quotes;
    assert_eq!(
        on_mine.iter().map(|q| q.id.as_str()).collect::<Vec<_>>(),
        [quote_id.as_str()]
    );
    assert_eq!(on_mine[0].status, types::QuoteStatus::Open);
    assert_eq!(on_mine[0].no_bid_dollars.value(), dec("0.55"));

    // Alice takes Bob's NO bid: she buys YES at 1 − 0.55, Bob buys NO.
    alice
        .communications()
        .accept_rfq_quote(&rfq_id, &quote_id)
        .body(accept_body(types::AcceptQuoteRequestAcceptedSide::No))
        .send()
        .await
        .unwrap();
    let accepted = bob
        .communications()
        .rfq_quote(&rfq_id, &quote_id)
        .send()
        .await
        .unwrap()
        .quote;
    assert_eq!(accepted.status, types::QuoteStatus::Accepted);
    assert_eq!(accepted.accepted_side, Some(types::QuoteAcceptedSide::No));
    assert!(
        fills(&alice).await.is_empty(),
        "nothing trades before the maker confirms"
    );

    bob.communications()
        .confirm_rfq_quote(&rfq_id, &quote_id)
        .send()
        .await
        .unwrap();

    let executed = alice
        .communications()
        .rfq_quote(&rfq_id, &quote_id)
        .send()
        .await
        .unwrap()
        .quote;
    assert_eq!(executed.status, types::QuoteStatus::Executed);
    assert!(executed.executed_ts.is_some());
    let alice_fills = fills(&alice).await;
    assert_eq!(alice_fills.len(), 1);
    assert_eq!(alice_fills[0].count_fp.value(), dec("10"));
    assert_eq!(alice_fills[0].yes_price_dollars.value(), dec("0.45"));
    assert_eq!(
        executed.rfq_creator_order_id.as_deref(),
        Some(alice_fills[0].order_id.as_str())
    );
    let bob_fills = fills(&bob).await;
    assert_eq!(bob_fills.len(), 1);
    assert_eq!(bob_fills[0].trade_id, alice_fills[0].trade_id);
    let bob_view = bob
        .communications()
        .quote(&quote_id)
        .send()
        .await
        .unwrap()
        .quote;
    assert_eq!(
        bob_view.creator_order_id.as_deref(),
        Some(bob_fills[0].order_id.as_str())
    );
    assert_eq!(position(&alice, MARKET).await, dec("10"));
    assert_eq!(position(&bob, MARKET).await, dec("-10"));
    let balance = |c: &Client| {
        let c = c.clone();
        async move {
            c.portfolio()
                .balance()
                .send()
                .await
                .unwrap()
                .balance_dollars
                .value()
        }
    };
    // Each paid its side of the trade, plus its fee.
    let fee = |fill: &types::Fill| fill.fee_cost.value();
    assert_eq!(
        balance(&alice).await,
        dec("10000") - dec("4.50") - fee(&alice_fills[0])
    );
    assert_eq!(
        balance(&bob).await,
        dec("10000") - dec("5.50") - fee(&bob_fills[0])
    );

    // The RFQ is done: closed, and no longer quotable.
    let closed = alice
        .communications()
        .rfq(&rfq_id)
        .send()
        .await
        .unwrap()
        .rfq;
    assert_eq!(closed.status, types::RfqStatus::Closed);
    let late = bob
        .communications()
        .create_quote()
        .body(quote_request(&rfq_id, "0.41", "0.50"))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(late, Error::BadRequest(_)), "{late:?}");
    prism.assert_clean();
}

#[tokio::test]
async fn a_deleted_rfq_cannot_be_quoted_and_only_its_creator_deletes_it() {
    let Stack {
        _sim,
        prism,
        alice,
        bob,
        carol: _,
    } = stack().await;
    let rfq_id = create_rfq(&alice, MARKET, "5").await;
    let quote_id = create_quote(&bob, &rfq_id, "0.30", "0.60").await;

    let refused = bob
        .communications()
        .delete_rfq(&rfq_id)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(refused, Error::NotFound(_)), "{refused:?}");
    alice
        .communications()
        .delete_rfq(&rfq_id)
        .send()
        .await
        .unwrap();

    let rfq = bob.communications().rfq(&rfq_id).send().await.unwrap().rfq;
    assert_eq!(rfq.status, types::RfqStatus::Closed);
    assert!(rfq.cancellation_reason.is_some() && rfq.cancelled_ts.is_some());
    let quote = bob
        .communications()
        .rfq_quote(&rfq_id, &quote_id)
        .send()
        .await
        .unwrap()
        .quote;
    assert_eq!(quote.status, types::QuoteStatus::Cancelled);

    let late = bob
        .communications()
        .create_quote()
        .body(quote_request(&rfq_id, "0.30", "0.60"))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(late, Error::BadRequest(_)), "{late:?}");
    let again = alice
        .communications()
        .delete_rfq(&rfq_id)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(again, Error::BadRequest(_)), "{again:?}");
    let accept = alice
        .communications()
        .accept_rfq_quote(&rfq_id, &quote_id)
        .body(accept_body(types::AcceptQuoteRequestAcceptedSide::Yes))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(accept, Error::BadRequest(_)), "{accept:?}");
    let unknown = alice
        .communications()
        .rfq("00000000-0000-4000-8000-00000000abcd")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(unknown, Error::NotFound(_)), "{unknown:?}");
    prism.assert_clean();
}

#[tokio::test]
async fn each_party_does_only_its_own_part() {
    let Stack {
        _sim,
        prism,
        alice,
        bob,
        carol,
    } = stack().await;
    let rfq_id = create_rfq(&alice, MARKET, "3").await;
    // Nobody quotes their own RFQ.
    let own = alice
        .communications()
        .create_quote()
        .body(quote_request(&rfq_id, "0.30", "0.60"))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(own, Error::BadRequest(_)), "{own:?}");
    // Bob declines the YES side.
    let bobs = create_quote(&bob, &rfq_id, "0", "0.60").await;
    let carols = create_quote(&carol, &rfq_id, "0.35", "0.50").await;

    // Quotes are private between the maker and the RFQ's creator.
    let hidden = carol
        .communications()
        .quote(&bobs)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(hidden, Error::NotFound(_)), "{hidden:?}");
    let carol_sees: Vec<String> = carol
        .communications()
        .quotes()
        .send()
        .await
        .unwrap()
        .quotes
        .into_iter()
        .map(|q| q.id)
        .collect();
    assert_eq!(carol_sees, [carols.as_str()]);

    let comms = alice.communications();
    let declined = comms
        .accept_quote(&bobs)
        .body(accept_body(types::AcceptQuoteRequestAcceptedSide::Yes))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(declined, Error::BadRequest(_)), "{declined:?}");
    let not_creator = bob
        .communications()
        .accept_quote(&bobs)
        .body(accept_body(types::AcceptQuoteRequestAcceptedSide::No))
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(not_creator, Error::BadRequest(_)),
        "{not_creator:?}"
    );
    let early = bob
        .communications()
        .confirm_quote(&bobs)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(early, Error::BadRequest(_)), "{early:?}");

    comms
        .accept_quote(&bobs)
        .body(accept_body(types::AcceptQuoteRequestAcceptedSide::No))
        .send()
        .await
        .unwrap();
    // One accepted quote per RFQ at a time; the creator does not confirm.
    let second = comms
        .accept_quote(&carols)
        .body(accept_body(types::AcceptQuoteRequestAcceptedSide::Yes))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(second, Error::BadRequest(_)), "{second:?}");
    let by_creator = comms.confirm_quote(&bobs).send().await.unwrap_err();
    assert!(matches!(by_creator, Error::BadRequest(_)), "{by_creator:?}");

    // Bob walks away instead of confirming; Carol's quote can then win.
    bob.communications()
        .delete_rfq_quote(&rfq_id, &bobs)
        .send()
        .await
        .unwrap();
    comms
        .accept_rfq_quote(&rfq_id, &carols)
        .body(accept_body(types::AcceptQuoteRequestAcceptedSide::Yes))
        .send()
        .await
        .unwrap();
    carol
        .communications()
        .confirm_rfq_quote(&rfq_id, &carols)
        .send()
        .await
        .unwrap();
    // Alice sold YES to Carol's bid: long NO at 1 − 0.35.
    assert_eq!(position(&alice, MARKET).await, dec("-3"));
    assert_eq!(position(&carol, MARKET).await, dec("3"));
    assert_eq!(position(&bob, MARKET).await, Decimal::ZERO);
    let statuses: Vec<(String, types::QuoteStatus)> = comms
        .quotes()
        .rfq_id(rfq_id.clone())
        .send()
        .await
        .unwrap()
        .quotes
        .into_iter()
        .map(|q| (q.id, q.status))
        .collect();
    assert!(statuses.contains(&(bobs, types::QuoteStatus::Cancelled)));
    assert!(statuses.contains(&(carols, types::QuoteStatus::Executed)));
    prism.assert_clean();
}

#[tokio::test]
async fn rfq_and_quote_lists_honour_their_filters() {
    let Stack {
        _sim,
        prism,
        alice,
        bob,
        carol,
    } = stack().await;
    let first = create_rfq(&alice, MARKET, "1").await;
    let second = create_rfq(&alice, OTHER_MARKET, "2").await;
    let third = create_rfq(&carol, MARKET, "3").await;
    alice
        .communications()
        .delete_rfq(&second)
        .send()
        .await
        .unwrap();
    let ids = |rfqs: Vec<types::Rfq>| rfqs.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let comms = bob.communications();

    let all: Vec<types::Rfq> = comms.rfqs().stream(None).try_collect().await.unwrap();
    assert_eq!(ids(all), [third.clone(), second.clone(), first.clone()]);
    let open = comms
        .rfqs()
        .status(types::GetRfQsStatus::Open)
        .send()
        .await
        .unwrap()
        .rfqs;
    assert_eq!(ids(open), [third.clone(), first.clone()]);
    let on_market = comms
        .rfqs()
        .market_ticker(MARKET.to_owned())
        .send()
        .await
        .unwrap()
        .rfqs;
    assert_eq!(ids(on_market), [third.clone(), first.clone()]);
    let in_event = comms
        .rfqs()
        .event_ticker("KXHIGHNY-26NOV30".to_owned())
        .send()
        .await
        .unwrap()
        .rfqs;
    assert_eq!(ids(in_event), [second.as_str()]);
    let carols = carol
        .communications()
        .rfqs()
        .user_filter(types::UserFilter::Self_)
        .send()
        .await
        .unwrap()
        .rfqs;
    assert_eq!(ids(carols), [third.as_str()]);
    let bobs = comms
        .rfqs()
        .user_filter(types::UserFilter::Self_)
        .send()
        .await
        .unwrap()
        .rfqs;
    assert!(bobs.is_empty());
    // One per page: the cursor walks all three.
    let page = comms.rfqs().limit(1).send().await.unwrap();
    assert_eq!(ids(page.rfqs), [third.as_str()]);
    let next = comms
        .rfqs()
        .limit(1)
        .cursor(page.cursor.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(ids(next.rfqs), [second.as_str()]);

    let on_first = create_quote(&bob, &first, "0.20", "0.70").await;
    let on_third = create_quote(&bob, &third, "0.25", "0.70").await;
    // A new quote on the same RFQ replaces the maker's open one.
    let replacement = create_quote(&bob, &third, "0.26", "0.70").await;
    let quote_ids =
        |quotes: Vec<types::Quote>| quotes.into_iter().map(|q| q.id).collect::<Vec<_>>();
    let mine = comms
        .quotes()
        .user_filter(types::UserFilter::Self_)
        .status(types::GetQuotesStatus::Open)
        .send()
        .await
        .unwrap()
        .quotes;
    assert_eq!(quote_ids(mine), [replacement.clone(), on_first.clone()]);
    let cancelled = comms
        .quotes()
        .status(types::GetQuotesStatus::Cancelled)
        .send()
        .await
        .unwrap()
        .quotes;
    assert_eq!(quote_ids(cancelled), [on_third]);
    let by_rfq = comms
        .quotes()
        .rfq_id(first.clone())
        .send()
        .await
        .unwrap()
        .quotes;
    assert_eq!(quote_ids(by_rfq), [on_first.as_str()]);
    let on_alices = alice
        .communications()
        .quotes()
        .rfq_user_filter(types::UserFilter::Self_)
        .send()
        .await
        .unwrap()
        .quotes;
    assert_eq!(quote_ids(on_alices), [on_first]);
    let malformed = comms
        .quotes()
        .rfq_id("not-a-uuid")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(malformed, Error::BadRequest(_)), "{malformed:?}");
    prism.assert_clean();
}

#[tokio::test]
async fn an_obscured_creator_is_revealed_once_a_quote_executes() {
    let Stack {
        _sim,
        prism,
        alice,
        bob,
        carol: _,
    } = stack().await;
    let rfq_id = alice
        .communications()
        .create_rfq()
        .body(
            types::CreateRfqRequest::builder()
                .market_ticker(MARKET.to_owned())
                .target_cost_dollars(Some("3.00".parse().unwrap()))
                .obscure_creator_id(true)
                .rest_remainder(false),
        )
        .send()
        .await
        .unwrap()
        .id;
    let placeholder = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let seen = bob.communications().rfq(&rfq_id).send().await.unwrap().rfq;
    assert_eq!(seen.creator_id, placeholder);
    assert_eq!(seen.target_cost_dollars.map(|d| d.value()), Some(dec("3")));

    // $3 at the complement of each bid: 0.40 → $0.60, 0.25 → $0.75.
    let quote_id = create_quote(&bob, &rfq_id, "0.40", "0.25").await;
    let quote = bob
        .communications()
        .quote(&quote_id)
        .send()
        .await
        .unwrap()
        .quote;
    assert_eq!(quote.rfq_creator_id, placeholder);
    assert_eq!(quote.yes_contracts_fp.map(|c| c.value()), Some(dec("5")));
    assert_eq!(quote.no_contracts_fp.map(|c| c.value()), Some(dec("4")));

    alice
        .communications()
        .accept_quote(&quote_id)
        .body(accept_body(types::AcceptQuoteRequestAcceptedSide::Yes))
        .send()
        .await
        .unwrap();
    bob.communications()
        .confirm_quote(&quote_id)
        .send()
        .await
        .unwrap();
    let revealed = bob.communications().rfq(&rfq_id).send().await.unwrap().rfq;
    let alice_id = alice
        .communications()
        .id()
        .send()
        .await
        .unwrap()
        .communications_id;
    assert_eq!(revealed.creator_id, alice_id);
    // Five contracts: Alice sold YES at 0.40.
    assert_eq!(position(&alice, MARKET).await, dec("-5"));
    assert_eq!(position(&bob, MARKET).await, dec("5"));
    prism.assert_clean();
}

fn proposal(
    buyer: &str,
    seller: &str,
    maker: types::ProposeBlockTradeRequestMakerSide,
) -> types::builder::ProposeBlockTradeRequest {
    types::ProposeBlockTradeRequest::builder()
        .buyer_user_id(buyer.to_owned())
        .seller_user_id(seller.to_owned())
        .market_ticker(MARKET.to_owned())
        .price_centi_cents(std::num::NonZeroU64::new(3_000).unwrap())
        .centicount(std::num::NonZeroU64::new(500).unwrap())
        .maker_side(maker)
        .expiration_ts(chrono::Utc::now() + chrono::Duration::hours(1))
}

#[tokio::test]
async fn a_block_trade_executes_when_the_counterparty_accepts() {
    let Stack {
        _sim,
        prism,
        alice,
        bob,
        carol,
    } = stack().await;
    let id = alice
        .communications()
        .propose_block_trade()
        .body(proposal(
            "alice",
            "bob",
            types::ProposeBlockTradeRequestMakerSide::Yes,
        ))
        .send()
        .await
        .unwrap()
        .block_trade_proposal_id;

    // Bob sees it pending, accepted by Alice, her identity hidden.
    let listed = bob
        .communications()
        .block_trade_proposals()
        .send()
        .await
        .unwrap()
        .block_trade_proposals;
    assert_eq!(listed.len(), 1);
    let pending = &listed[0];
    assert_eq!(
        (pending.id.as_str(), pending.status.as_str()),
        (id.as_str(), "pending")
    );
    assert!(pending.buyer_accepted && !pending.seller_accepted);
    assert_eq!(
        (
            pending.buyer_user_id.as_str(),
            pending.seller_user_id.as_str()
        ),
        ("", "bob")
    );
    assert_eq!(pending.proposer_user_id, "alice");
    let hidden = carol
        .communications()
        .block_trade_proposals()
        .send()
        .await
        .unwrap()
        .block_trade_proposals;
    assert!(hidden.is_empty());
    let stranger = carol
        .communications()
        .accept_block_trade_proposal(&id)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(stranger, Error::NotFound(_)), "{stranger:?}");
    let twice = alice
        .communications()
        .accept_block_trade_proposal(&id)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(twice, Error::BadRequest(_)), "{twice:?}");

    bob.communications()
        .accept_block_trade_proposal(&id)
        .send()
        .await
        .unwrap();
    // Five YES at 0.30 from Bob to Alice.
    let alice_fills = fills(&alice).await;
    assert_eq!(alice_fills.len(), 1);
    assert_eq!(alice_fills[0].count_fp.value(), dec("5"));
    assert_eq!(alice_fills[0].yes_price_dollars.value(), dec("0.30"));
    assert_eq!(position(&alice, MARKET).await, dec("5"));
    assert_eq!(position(&bob, MARKET).await, dec("-5"));
    let executed = alice
        .communications()
        .block_trade_proposals()
        .status("executed".to_owned())
        .market_ticker(MARKET.to_owned())
        .send()
        .await
        .unwrap()
        .block_trade_proposals;
    assert_eq!(executed.len(), 1);
    assert_eq!(
        executed[0].buyer_order_id.as_deref(),
        Some(alice_fills[0].order_id.as_str())
    );
    assert!(executed[0].executed_ts.is_some() && executed[0].seller_accepted);
    let none_pending = alice
        .communications()
        .block_trade_proposals()
        .status("pending".to_owned())
        .send()
        .await
        .unwrap()
        .block_trade_proposals;
    assert!(none_pending.is_empty());

    // Only a party may propose.
    let meddling = carol
        .communications()
        .propose_block_trade()
        .body(proposal(
            "alice",
            "bob",
            types::ProposeBlockTradeRequestMakerSide::No,
        ))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(meddling, Error::Auth { .. }), "{meddling:?}");
    prism.assert_clean();
}
