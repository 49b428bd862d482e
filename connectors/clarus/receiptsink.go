package clarus

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/schemas"
)

// ReceiptSinkGroup is the goods-in receipt sink's consumer group, after
// the topic prefix.
const ReceiptSinkGroup = "lockstep-clarus-receipts"

// receiptSinkStage names the sink in DLQ records.
const receiptSinkStage = "clarus-receipt-sink"

// ReceiptSink applies lockstep.cmd.clarus-receipts to Clarus: each
// command, in partition order, creates, updates or cancels the pre-receipt
// (goods-in receipt) of a Prima PO, and its answer, a ReceiptAck, goes to
// clarus.receipt-acks. It runs the transaction loop every command sink
// shares (sinkloop.go): for one poll, the acks (and the DLQ records of
// commands that cannot be read) and the consumed offsets commit in one
// Kafka transaction, so each command is acked once even across crashes.
//
// The reference scheme: a pre-receipt's reference is the PO ref, nothing
// added. It is what the warehouse sees on the paperwork and types when
// the goods come, and what Clarus records on the receipt, so the receipt
// event (clarus.receipts) is keyed by the PO ref without a mapping. A
// version in the reference would put it on every receipt, and make the
// warehouse type it. There is one standing pre-receipt per PO: an amended
// PO updates it in place (PATCH), and a cancelled one is cancelled (it
// stays listed, cancelled, and a later create makes a new one). The PO
// version goes in string1 ("v<version>") and the PO ref in
// external_system_reference1, the documented place for the upstream id.
//
// Clarus documents no idempotency key and takes a second receipt with the
// same reference, so the sink is idempotent by looking up: before it
// creates, and after any failure that may have created (no answer, a 5xx
// after the write), it reads the receipts with the reference. One that
// stands (not cancelled) with the command's warehouse and lines is the
// command's own, from an attempt whose answer or transaction was lost:
// acked created with its id, never made twice. One that stands with other
// lines is another version's: acked rejected (the PO's amendments come as
// updates). An update reads the pre-receipt, and sends only what differs
// from the command (line changes computed from what stands), so a
// repeated update after an ambiguous failure finds nothing left to send.
//
// Refusals (4xx: a product without a storage unit of priority 0, an
// unknown or non-stock product, a pre-receipt being received) are acked
// rejected with the reason: never retried, never dropped. Failures that
// may pass are retried without end through the token bucket, as the
// order sink's are (Config's ORDER_RATE_PER_SECOND, ORDER_BURST and
// ORDER_BACKOFF_* pace both sinks).
type ReceiptSink struct {
	*sinkLoop
	ackTopic     string
	warehouseIDs map[string]string // code -> Clarus id
}

// NewReceiptSink returns a sink that calls Clarus through api and consumes
// with a group client built from kopts (seed brokers, TLS, SASL). It only
// validates (cfg as resolved: Config.Resolve has validated the rest); Run
// connects. cfg.AccountID is required: every pre-receipt names its stock
// owner (documented as required). o.TransactionalID must be unique per
// running sink; empty, it is lockstep-clarus-receipts-<subdomain> after
// the topic prefix.
func NewReceiptSink(cfg Config, api *Client, serde *schemas.Serde, o Options, kopts ...kgo.Opt) (*ReceiptSink, error) {
	o, ids, err := sinkSetup("receipt sink", "lockstep-clarus-receipts-", cfg, api, serde, o)
	if err != nil {
		return nil, err
	}
	s := &ReceiptSink{ackTopic: o.TopicPrefix + schemas.TopicReceiptAcks, warehouseIDs: ids}
	s.sinkLoop = newSinkLoop("receipt sink", receiptSinkStage, ReceiptSinkGroup, schemas.TopicCmdClarusReceipts, cfg, api, serde, o, o.Metrics.receiptSink, kopts)
	s.handle = s.handleCommand
	return s, nil
}

// Run joins the group and applies commands until ctx ends, then leaves the
// group and closes its client. Only Kafka failing the sink's transactions
// stops it; Clarus failing only pauses it. A command whose transaction did
// not commit is handled again, by this sink or the partition's next owner.
// A ReceiptSink runs once.
func (s *ReceiptSink) Run(ctx context.Context) error { return s.run(ctx) }

func (s *ReceiptSink) handleCommand(ctx context.Context, r *kgo.Record) (handled, error) {
	return handleCommand(ctx, s.sinkLoop, r, unanswerableReceipt, s.apply, s.ack)
}

func (s *ReceiptSink) apply(ctx context.Context, cmd *schemas.ClarusReceiptCommand) (answer, error) {
	switch cmd.Action {
	case schemas.ClarusReceiptCreate:
		return s.create(ctx, cmd)
	case schemas.ClarusReceiptUpdate:
		return s.update(ctx, cmd)
	}
	return s.cancel(ctx, cmd)
}

// ack is the answer to cmd on clarus.receipt-acks, keyed by PO ref.
func (s *ReceiptSink) ack(cmd *schemas.ClarusReceiptCommand, a answer, now time.Time) (string, string, schemas.Event, func()) {
	ack := &schemas.ReceiptAck{
		Meta:  schemas.Meta{EventID: ackEventID(cmd.EventID, cmd.PORef, cmd.POVersion, string(cmd.Action)), Source: schemas.SourceClarus, OccurredAt: now, IngestedAt: now},
		PORef: cmd.PORef, POVersion: cmd.POVersion, Action: cmd.Action, Status: schemas.ReceiptAckStatus(a.status),
		ClarusID: a.id(), Reason: a.why(),
	}
	return s.ackTopic, cmd.PORef, ack, func() { s.m.acks.WithLabelValues(string(ack.Action), string(ack.Status)).Inc() }
}

// unanswerableReceipt says why a decoded command cannot be acked at all.
func unanswerableReceipt(cmd *schemas.ClarusReceiptCommand) string {
	switch cmd.Action {
	case schemas.ClarusReceiptCreate, schemas.ClarusReceiptUpdate, schemas.ClarusReceiptCancel:
	default:
		return fmt.Sprintf("unknown action %q (want create, update or cancel)", cmd.Action)
	}
	if cmd.PORef == "" {
		return "the command has no po_ref to ack"
	}
	return ""
}
