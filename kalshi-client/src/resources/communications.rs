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

resource_group! {
    /// RFQ batches: quotes requested on several combos at once (every parlay
    /// of a round robin, say), quoted by makers as a whole and accepted all
    /// or nothing. Reached through `client.communications().rfq_batches()`.
    RfqBatches => Communications.rfq_batches {
        /// Your RFQ batches and those visible to you, most recently updated
        /// first (cursor-paginated: `.page()` / `.stream()`).
        ///
        /// `GET /communications/rfq_batches`
        list() => get_rfq_batches: GetRfqBatches [subaccount];
        /// One RFQ batch with its child RFQs, in request order.
        ///
        /// `GET /communications/rfq_batches/{rfq_batch_id}`
        get(rfq_batch_id) => get_rfq_batch: GetRfqBatch;
        /// Opens an RFQ batch: 2 to 57 child RFQs, at most 2 open batches.
        ///
        /// `POST /communications/rfq_batches`
        create() => create_rfq_batch: CreateRfqBatch;
        /// Closes an RFQ batch and its child RFQs; open batch quotes on it
        /// are cancelled. An accepted batch can no longer be closed.
        ///
        /// `DELETE /communications/rfq_batches/{rfq_batch_id}`
        delete(rfq_batch_id) => delete_rfq_batch: DeleteRfqBatch;
        /// The best open bid on each side of every child, across makers
        /// (batch creator only).
        ///
        /// `GET /communications/rfq_batches/{rfq_batch_id}/best_quotes`
        best_quotes(rfq_batch_id) => get_rfq_batch_best_quotes: GetRfqBatchBestQuotes;
        /// Accepts every child on one side, each from its best maker; all or
        /// nothing, protected by a minimum bid per child.
        ///
        /// `PUT /communications/rfq_batches/{rfq_batch_id}/accept`
        accept(rfq_batch_id) => accept_rfq_batch: AcceptRfqBatch;
        /// The batch quotes on a batch that are visible to you.
        ///
        /// `GET /communications/rfq_batches/{rfq_batch_id}/quotes`
        quotes(rfq_batch_id) => get_rfq_batch_quotes: GetRfqBatchQuotes;
        /// Quotes every child of a batch, replacing your previous batch quote
        /// on it; eligible for 30 seconds after it was last sent.
        ///
        /// `POST /communications/rfq_batches/{rfq_batch_id}/quotes`
        create_quote(rfq_batch_id) => create_rfq_batch_quote: CreateRfqBatchQuote;
        /// Withdraws one of your open batch quotes.
        ///
        /// `DELETE /communications/rfq_batches/{rfq_batch_id}/quotes/{batch_quote_id}`
        delete_quote(rfq_batch_id, batch_quote_id) => delete_rfq_batch_quote: DeleteRfqBatchQuote;
        /// Confirms every child your batch quote won; the children execute
        /// once every winning maker has confirmed.
        ///
        /// `PUT /communications/rfq_batches/{rfq_batch_id}/quotes/{batch_quote_id}/confirm`
        confirm_quote(rfq_batch_id, batch_quote_id) => confirm_rfq_batch_quote: ConfirmRfqBatchQuote;
    }
}
