//! Communications: RFQs, quotes and block trades.
use crate::resources::resource_group;

resource_group! {
    /// Communications: requests for quote (RFQs), quotes on them, and block
    /// trade proposals.
    Communications => communications {
        /// Your public communications id, which identifies you in RFQs and
        /// quotes.
        ///
        /// `GET /communications/id`
        id() => get_communications_id: GetCommunicationsId;
        /// RFQs matching the filters (cursor-paginated: `.page()` / `.stream()`).
        ///
        /// `GET /communications/rfqs`
        rfqs() => get_rf_qs: GetRfQs [subaccount];
        /// One RFQ by id.
        ///
        /// `GET /communications/rfqs/{rfq_id}`
        rfq(rfq_id) => get_rfq: GetRfq;
        /// Opens an RFQ (at most 100 open at a time).
        ///
        /// `POST /communications/rfqs`
        create_rfq() => create_rfq: CreateRfq;
        /// Deletes an RFQ.
        ///
        /// `DELETE /communications/rfqs/{rfq_id}`
        delete_rfq(rfq_id) => delete_rfq: DeleteRfq;
        /// Quotes matching the filters (cursor-paginated: `.page()` / `.stream()`).
        ///
        /// `GET /communications/quotes`
        quotes() => get_quotes: GetQuotes;
        /// One quote by id. Deprecated by Kalshi: use
        /// [`rfq_quote`](Self::rfq_quote).
        ///
        /// `GET /communications/quotes/{quote_id}`
        quote(quote_id) => get_quote: GetQuote;
        /// Sends a quote in response to an RFQ.
        ///
        /// `POST /communications/quotes`
        create_quote() => create_quote: CreateQuote;
        /// Withdraws a quote so it can no longer be accepted. Deprecated by
        /// Kalshi: use [`delete_rfq_quote`](Self::delete_rfq_quote).
        ///
        /// `DELETE /communications/quotes/{quote_id}`
        delete_quote(quote_id) => delete_quote: DeleteQuote;
        /// Accepts a quote; the quoter must then confirm. Deprecated by
        /// Kalshi: use [`accept_rfq_quote`](Self::accept_rfq_quote).
        ///
        /// `PUT /communications/quotes/{quote_id}/accept`
        accept_quote(quote_id) => accept_quote: AcceptQuote;
        /// Confirms an accepted quote, starting the timer for execution.
        /// Deprecated by Kalshi: use
        /// [`confirm_rfq_quote`](Self::confirm_rfq_quote).
        ///
        /// `PUT /communications/quotes/{quote_id}/confirm`
        confirm_quote(quote_id) => confirm_quote: ConfirmQuote;
        /// One quote on an RFQ.
        ///
        /// `GET /communications/rfqs/{rfq_id}/quotes/{quote_id}`
        rfq_quote(rfq_id, quote_id) => get_rfq_quote: GetRfqQuote;
        /// Accepts a quote on your RFQ; the quoter must then confirm.
        ///
        /// `PUT /communications/rfqs/{rfq_id}/quotes/{quote_id}/accept`
        accept_rfq_quote(rfq_id, quote_id) => accept_rfq_quote: AcceptRfqQuote;
        /// Confirms your accepted quote, starting the timer for execution.
        ///
        /// `PUT /communications/rfqs/{rfq_id}/quotes/{quote_id}/confirm`
        confirm_rfq_quote(rfq_id, quote_id) => confirm_rfq_quote: ConfirmRfqQuote;
        /// Withdraws a quote on an RFQ so it can no longer be accepted.
        ///
        /// `DELETE /communications/rfqs/{rfq_id}/quotes/{quote_id}`
        delete_rfq_quote(rfq_id, quote_id) => delete_rfq_quote: DeleteRfqQuote;
        /// Block trade proposals visible to you (cursor-paginated:
        /// `.page()` / `.stream()`).
        ///
        /// `GET /communications/block-trade-proposals`
        block_trade_proposals() => get_block_trade_proposals: GetBlockTradeProposals;
        /// Proposes a block trade.
        ///
        /// `POST /communications/block-trade-proposals`
        propose_block_trade() => propose_block_trade: ProposeBlockTrade;
        /// Accepts a block trade proposal.
        ///
        /// `POST /communications/block-trade-proposals/{block_trade_proposal_id}/accept`
        accept_block_trade_proposal(block_trade_proposal_id) => accept_block_trade_proposal: AcceptBlockTradeProposal;
    }
}
