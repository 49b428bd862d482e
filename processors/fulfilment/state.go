package fulfilment

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/lockstep-dev/lockstep/schemas"
)

// State is one order's fulfilment as the processor knows it.
type State struct {
	Ref string `json:"ref"`
	// Order is the latest version of the Prima order: prices and every
	// line, stock or not.
	Order *Order `json:"order,omitempty"`
	// Sent is the latest goods-out lockstep asked Clarus to create; nil
	// when it never did.
	Sent *Sent `json:"sent,omitempty"`
	// Shipments by Clarus shipment id.
	Shipments map[string]*Shipment `json:"shipments,omitempty"`
	// Notes are Prima despatch notes seen, by Prima's note id.
	Notes map[string]*Note `json:"notes,omitempty"`
	// Complete: Clarus said the goods-out is fully dispatched.
	Complete bool `json:"complete,omitempty"`
	// NonStockNoted: the order's non-stock lines went on a despatch note.
	NonStockNoted bool `json:"non_stock_noted,omitempty"`
	// Closed: the fulfilment was closed (close command and event sent).
	Closed bool `json:"closed,omitempty"`
	// Open are the discrepancies this order has open, by id.
	Open map[string]schemas.DriftKind `json:"open,omitempty"`
}

// Order is what the join needs of a Prima order.
type Order struct {
	Version   int64                    `json:"version"`
	Status    schemas.SalesOrderStatus `json:"status"`
	Warehouse string                   `json:"warehouse"`
	Currency  string                   `json:"currency"`
	Lines     []OrderLine              `json:"lines"`
}

// OrderLine is one line of a Prima order.
type OrderLine struct {
	SKU       string          `json:"sku"`
	Quantity  int64           `json:"qty"`
	UnitPrice schemas.Decimal `json:"price"`
}

// Sent is the goods-out lockstep asked for: the mapping of its lines.
type Sent struct {
	Version   int64                `json:"version"`
	Warehouse string               `json:"warehouse"`
	Lines     []schemas.ClarusLine `json:"lines"`
	Cancelled bool                 `json:"cancelled,omitempty"`
}

// Shipment is one Clarus shipment of the order.
type Shipment struct {
	ID         string         `json:"id"`
	Warehouse  string         `json:"warehouse"`
	Lines      []schemas.Line `json:"lines"` // Clarus codes, units shipped
	Carrier    *string        `json:"carrier,omitempty"`
	Tracking   *string        `json:"tracking,omitempty"`
	Dispatched int64          `json:"dispatched"` // unix ms, Clarus's clock
	Cancelled  bool           `json:"cancelled,omitempty"`
	// WaitingDue is set while the order is not known as sent: the
	// shipment waits until then (unix ms) before it is an exception.
	WaitingDue int64 `json:"waiting_due,omitempty"`
	// Requested: its despatch command was emitted.
	Requested bool `json:"requested,omitempty"`
	// Expected are the stock lines the note must carry, in Prima SKUs.
	Expected []schemas.Line `json:"expected,omitempty"`
	// SLADue is the deadline for its note (unix ms; 0 once noted).
	SLADue int64 `json:"sla_due,omitempty"`
	// NoteID is Prima's note that confirms it.
	NoteID string `json:"note_id,omitempty"`
	// Failed: Prima refused the despatch post.
	Failed bool `json:"failed,omitempty"`
}

// Note is a Prima despatch note of the order.
type Note struct {
	ID        string         `json:"id"`
	Reference string         `json:"ref"`
	Lines     []schemas.Line `json:"lines"`
	// Shipment is the shipment it confirms ("" while unmatched).
	Shipment string `json:"shipment,omitempty"`
	// UnmatchedDue is when an unmatched note becomes
	// despatch_without_shipment (unix ms; 0 when matched or reported).
	UnmatchedDue int64 `json:"unmatched_due,omitempty"`
}

func decodeState(v []byte) (State, error) {
	var st State
	if err := json.Unmarshal(v, &st); err != nil {
		return State{}, fmt.Errorf("fulfilment: state: %w", err)
	}
	return st, nil
}

func encodeState(st State) ([]byte, error) {
	v, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("fulfilment: state %s: %w", st.Ref, err)
	}
	return v, nil
}

// shipmentIDs returns the ids of the shipments in order.
func (st *State) shipmentIDs() []string { return slices.Sorted(maps.Keys(st.Shipments)) }

// noteIDs returns the ids of the notes in order.
func (st *State) noteIDs() []string { return slices.Sorted(maps.Keys(st.Notes)) }
