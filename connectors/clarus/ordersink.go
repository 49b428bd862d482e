package clarus

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/schemas"
)

// OrderSinkGroup is the order sink's consumer group, after the topic prefix.
const OrderSinkGroup = "lockstep-clarus-orders"

// orderSinkStage names the sink in DLQ records.
const orderSinkStage = "clarus-order-sink"

// OrderSink applies lockstep.cmd.clarus-orders to Clarus: each command,
// in partition order, creates, cancels or closes (marks as held in Prima's
// despatch notes) a goods out, and its answer goes to clarus.order-acks. For one poll, the acks (and the DLQ records of
// commands that cannot be read) and the consumed offsets commit in one
// Kafka transaction, so each command is acked once even across crashes
// (the transaction loop every command sink shares: sinkloop.go).
//
// Clarus documents no idempotency key and may accept a second goods out
// with the same reference, so the sink makes creation idempotent itself:
// it looks the reference up (GraphQL) before it creates, and again after
// any failure that may have created. A goods out that stands with the
// command's lines is the one an earlier attempt made (its answer lost, or
// its transaction never committed): acked created with its id. One that
// stands with other lines is another version's: acked rejected, never
// duplicated.
//
// Failures that may pass (5xx, 429, no answer) are retried without end
// through a token bucket that honours Retry-After, with backoff: while
// Clarus is down the sink waits on the command in hand, and readiness
// says so. Refusals (4xx on a write, an unknown product) are acked
// rejected with Clarus's reason: never retried, never dropped.
type OrderSink struct {
	*sinkLoop
	ackTopic     string
	warehouseIDs map[string]string // code -> Clarus id

	// refusedCancels remembers, per order ref, a cancel this sink refused,
	// so that the create of a cancel-and-recreate that follows it is
	// refused too rather than answered with the goods out that could not
	// be cancelled. A hint for the common case: after a restart between
	// the two, the create's look-up decides alone. Guarded by mu.
	refusedCancels map[string]refusedCancel
}

type refusedCancel struct {
	version int64
	reason  string
}

// NewOrderSink returns a sink that calls Clarus through api and consumes
// with a group client built from kopts (seed brokers, TLS, SASL). It only
// validates (cfg as resolved: Config.Resolve has validated the rest); Run
// connects. cfg.AccountID is required: every goods out names its stock
// owner (documented as required). o.TransactionalID must be unique per running
// sink; empty, it is lockstep-clarus-orders-<subdomain>.
func NewOrderSink(cfg Config, api *Client, serde *schemas.Serde, o Options, kopts ...kgo.Opt) (*OrderSink, error) {
	o, ids, err := sinkSetup("order sink", "lockstep-clarus-orders-", cfg, api, serde, o)
	if err != nil {
		return nil, err
	}
	s := &OrderSink{ackTopic: o.TopicPrefix + schemas.TopicOrderAcks, warehouseIDs: ids, refusedCancels: map[string]refusedCancel{}}
	s.sinkLoop = newSinkLoop("order sink", orderSinkStage, OrderSinkGroup, schemas.TopicCmdClarusOrders, cfg, api, serde, o, o.Metrics.orderSink, kopts)
	s.handle = s.handleCommand
	s.forget = func() { clear(s.refusedCancels) }
	return s, nil
}

// sinkSetup validates what every command sink needs (a client, a serde,
// the stock owner and the warehouses), fills o's defaults (TransactionalID:
// txPrefix+subdomain after the topic prefix) and returns the warehouses'
// Clarus ids by code.
func sinkSetup(name, txPrefix string, cfg Config, api *Client, serde *schemas.Serde, o Options) (Options, map[string]string, error) {
	if api == nil || serde == nil {
		return o, nil, fmt.Errorf("clarus: %s: needs a Clarus client and a serde", name)
	}
	if !validID(cfg.AccountID) {
		return o, nil, fmt.Errorf("clarus: %s: %sACCOUNT_ID is required: Clarus records name their stock owner (account_id)", name, EnvPrefix)
	}
	if whs := cfg.warehouseCodes(); len(whs) == 0 || len(whs) != len(cfg.Warehouses) {
		return o, nil, fmt.Errorf("clarus: %s: %sWAREHOUSES: want valid id=code pairs (validate the configuration first)", name, EnvPrefix)
	}
	if o.TransactionalID == "" {
		o.TransactionalID = o.TopicPrefix + txPrefix + cfg.Subdomain
	}
	o = o.withDefaults(cfg)
	ids := map[string]string{}
	for id, code := range cfg.warehouseCodes() {
		ids[code] = id
	}
	return o, ids, nil
}

// Run joins the group and applies commands until ctx ends, then leaves the
// group and closes its client. Only Kafka failing the sink's transactions
// stops it; Clarus failing only pauses it. A command whose transaction did
// not commit is handled again, by this sink or the partition's next owner.
// An OrderSink runs once.
func (s *OrderSink) Run(ctx context.Context) error { return s.run(ctx) }
