package orders

import (
	"encoding/json"
	"fmt"

	"github.com/lockstep-dev/lockstep/processors/discrepancy"
	"github.com/lockstep-dev/lockstep/schemas"
)

// Phase is where an order stands between Prima and Clarus.
type Phase string

// The phases. Only Sent and Cancelling have a goods-out in Clarus (or one
// on its way).
const (
	PhaseNew        Phase = ""           // never seen
	PhaseHeld       Phase = "held"       // a stock line is unmapped; nothing sent
	PhaseNoStock    Phase = "no_stock"   // only non-stock lines: complete for fulfilment, nothing for Clarus
	PhaseSent       Phase = "sent"       // a goods-out create was sent (Sent)
	PhaseRejected   Phase = "rejected"   // Clarus refused the goods-out
	PhaseCancelling Phase = "cancelling" // a cancel was sent after Prima cancelled
	PhaseCancelled  Phase = "cancelled"
)

// State is one order as the processor knows it.
type State struct {
	Ref     string `json:"ref"`
	Version int64  `json:"version"` // of the last Prima event folded
	Phase   Phase  `json:"phase"`
	// Order is the last version Prima released (nil for a cancellation
	// of an order never seen): what a re-drive evaluates again.
	Order *schemas.SalesOrder `json:"order,omitempty"`
	// Sent is the goods-out Clarus has, or was asked to create.
	Sent *Sent `json:"sent,omitempty"`
	// Replacing is the re-created goods-out of a forwarded amendment,
	// sent once Clarus confirms the cancel of Sent.
	Replacing *Sent `json:"replacing,omitempty"`
	// CancelVersion is the version of the cancel in flight (0: none):
	// the answer to an earlier cancel is stale.
	CancelVersion int64 `json:"cancel_version,omitempty"`
	// Open are the discrepancies this order has open, by id.
	Open discrepancy.Set `json:"open,omitempty"`
	// RedriveAt is the due time of the held order's re-drive timer.
	RedriveAt int64 `json:"redrive_at,omitempty"` // unix ms
	// Published is the open goods-out quantity last published per Clarus
	// code@warehouse (open.go); OpenSeq counts the publications, for
	// their event ids.
	Published map[string]int64 `json:"published,omitempty"`
	OpenSeq   int64            `json:"open_seq,omitempty"`
}

// Sent is a goods-out as lockstep asked Clarus for it.
type Sent struct {
	Version  int64                    `json:"version"`
	Lines    []schemas.ClarusLine     `json:"lines"`
	Delivery *schemas.DeliveryAddress `json:"delivery,omitempty"`
	ClarusID string                   `json:"clarus_id,omitempty"` // once acknowledged
	// Warehouse is where the goods-out was sent: an amendment that is not
	// forwarded can change the order's, not this one's.
	Warehouse string `json:"warehouse,omitempty"`
	// Shipments are the ids of the shipments of this goods-out folded so
	// far; Shipped the units they dispatched per Clarus code; Done says
	// the goods-out is dispatched in full or cancelled in Clarus.
	Shipments []string         `json:"shipments,omitempty"`
	Shipped   map[string]int64 `json:"shipped,omitempty"`
	Done      bool             `json:"done,omitempty"`
}

func decodeState(v []byte) (State, error) {
	var st State
	if err := json.Unmarshal(v, &st); err != nil {
		return State{}, fmt.Errorf("orders: state: %w", err)
	}
	return st, nil
}

func encodeState(st State) ([]byte, error) { return json.Marshal(st) }
