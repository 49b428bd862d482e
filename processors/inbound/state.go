package inbound

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/lockstep-dev/lockstep/processors/discrepancy"
	"github.com/lockstep-dev/lockstep/schemas"
)

// Phase is where a PO's pre-receipt stands in Clarus.
type Phase string

// The phases. Only Sent and Cancelling have a pre-receipt in Clarus (or
// one on its way).
const (
	PhaseNew        Phase = ""           // no PO seen (receipts may be)
	PhaseHeld       Phase = "held"       // a line is unmapped; nothing sent
	PhaseSent       Phase = "sent"       // a create was sent (Sent)
	PhaseRejected   Phase = "rejected"   // Clarus refused the create
	PhaseCancelling Phase = "cancelling" // a cancel was sent after Prima cancelled
	PhaseCancelled  Phase = "cancelled"  // no pre-receipt in Clarus, none to come
)

// State is one PO ref as the processor knows it: the PO, its pre-receipt
// in Clarus, and the receipts Clarus recorded against it.
type State struct {
	Ref     string `json:"ref"`     // the record key: a PO ref, or orphan:<receipt id>
	Version int64  `json:"version"` // of the last Prima event folded
	Phase   Phase  `json:"phase"`
	// PO is the last live (approved or amended) version: what a re-drive
	// sends and what receipts are checked against. A cancellation keeps
	// it, so receipts after it are still checked.
	PO *schemas.PurchaseOrder `json:"po,omitempty"`
	// Lines are PO's lines with the Clarus code each mapped to when PO
	// was folded or re-driven ("" while unmapped).
	Lines []schemas.ClarusLine `json:"lines,omitempty"`
	// Cancelled is the version of Prima's cancellation (0: live). Prima
	// does not revive a cancelled PO.
	Cancelled int64 `json:"cancelled,omitempty"`
	// Sent is the pre-receipt Clarus has, or was asked to create; Pending
	// an update of it in flight.
	Sent    *Sent `json:"sent,omitempty"`
	Pending *Sent `json:"pending,omitempty"`
	// CreateVersion is the version of the last create sent (0: none): a
	// refusal of an earlier one is stale, and an ack before any is not
	// this processor's.
	CreateVersion int64 `json:"create_version,omitempty"`
	// Created says Clarus acknowledged a pre-receipt of the PO.
	Created  bool   `json:"created,omitempty"`
	ClarusID string `json:"clarus_id,omitempty"`
	// CancelVersion is the version of the cancel in flight (0: none).
	CancelVersion int64 `json:"cancel_version,omitempty"`
	// Receipts are the Clarus receipts folded, in arrival order, each
	// once however many copies arrive.
	Receipts []Receipt `json:"receipts,omitempty"`
	// Open are the discrepancies of this key open, by id; Reported the
	// quantities last said of the open receipt discrepancies, so an
	// unchanged one is not said again.
	Open     discrepancy.Set    `json:"open,omitempty"`
	Reported map[string]Measure `json:"reported,omitempty"`
	// RedriveAt and CheckAt are the due times (unix ms) of the re-drive
	// timer of a held PO and of the po_not_in_wms check: a timer that
	// fires for another time was superseded and does nothing.
	RedriveAt int64 `json:"redrive_at,omitempty"`
	CheckAt   int64 `json:"check_at,omitempty"`
}

// Sent is a pre-receipt as lockstep asked Clarus for it: what an amendment
// is compared with.
type Sent struct {
	Version     int64                `json:"version"`
	Warehouse   string               `json:"warehouse"`
	SupplierRef string               `json:"supplier_ref"`
	ExpectedAt  *time.Time           `json:"expected_at,omitempty"`
	Lines       []schemas.ClarusLine `json:"lines"`
}

// Receipt is a Clarus receipt as folded: Clarus product codes and units.
type Receipt struct {
	ID        string         `json:"id"`
	Warehouse string         `json:"warehouse"`
	Lines     []schemas.Line `json:"lines"`
}

// Measure is what a receipt discrepancy last said.
type Measure struct {
	Expected int64           `json:"expected"`
	Actual   int64           `json:"actual"`
	Value    schemas.Decimal `json:"value"`
}

func decodeState(v []byte) (State, error) {
	var st State
	if err := json.Unmarshal(v, &st); err != nil {
		return State{}, fmt.Errorf("inbound: state: %w", err)
	}
	return st, nil
}

func encodeState(st State) ([]byte, error) { return json.Marshal(st) }
