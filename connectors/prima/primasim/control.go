package primasim

import (
	"fmt"
	"maps"
	"net/http"

	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
	"github.com/lockstep-dev/lockstep/connectors/simkit"
	"github.com/lockstep-dev/lockstep/schemas"
)

// The control API under /_sim/: unauthenticated JSON, for tests and the
// demo, never part of what Prima serves.

// Event is a business change made in Prima by hand, as a person at a Prima
// screen would: Type is add_item (or update it), set_item_cost, map_item
// (to clarus_code, or when it is left out to the item's intended code),
// discontinue_item or set_stock (overwrite a level: an injected drift);
// or, for sales orders, release_order (order_ref, warehouse, currency,
// customer_ref, channel, delivery, lines), amend_order (order_ref and
// lines, replacing every line, or delivery, or both) or cancel_order
// (order_ref); or despatch_note (order_ref, reference, warehouse, lines
// with sku and quantity): a despatch note made by hand, under any
// reference the person chooses; or, for purchase orders, approve_po
// (po_ref, supplier_ref, warehouse, currency, expected_date, po_lines),
// amend_po (po_ref and po_lines, replacing every line, or expected_date,
// or both) or cancel_po (po_ref). Every change stamps what it touches
// modified.
type Event struct {
	Type        string           `json:"type"`
	SKU         string           `json:"sku"`
	Description string           `json:"description,omitempty"`
	ClarusCode  *string          `json:"clarus_code,omitempty"` // "" unmaps
	StockItem   *bool            `json:"stock_item,omitempty"`
	UnitCost    *schemas.Decimal `json:"unit_cost,omitempty"`
	Currency    string           `json:"currency,omitempty"`
	Warehouse   string           `json:"warehouse,omitempty"`
	Available   *int64           `json:"available,omitempty"`

	// Sales order events.
	OrderRef    string   `json:"order_ref,omitempty"`
	CustomerRef string   `json:"customer_ref,omitempty"`
	Channel     string   `json:"channel,omitempty"`
	Delivery    *Address `json:"delivery,omitempty"`
	// Lines, when not nil, are all the order's lines: an amendment
	// replaces every line with them (an empty, non-nil list: none).
	Lines []OrderLine `json:"lines,omitempty"`

	// Reference is a despatch_note's reference.
	Reference string `json:"reference,omitempty"`

	// Purchase order events; Warehouse and Currency above are the PO's.
	PORef       string `json:"po_ref,omitempty"`
	SupplierRef string `json:"supplier_ref,omitempty"`
	// ExpectedDate is the delivery date, wire.DateLayout (YYYY-MM-DD),
	// kept as told: another form is how a test injects a date lockstep
	// cannot read.
	ExpectedDate string `json:"expected_date,omitempty"`
	// POLines, when not nil, are all the PO's lines: an amendment
	// replaces every line with them.
	POLines []POLine `json:"po_lines,omitempty"`
}

// EventError is an event the ground truth refuses.
type EventError struct{ Msg string }

func (e *EventError) Error() string { return "primasim: " + e.Msg }

// State returns the ground truth.
func (s *Server) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st.snapshot()
	st.CompanyID, st.Faults, st.DespatchFaults = s.opts.CompanyID, s.inject.Faults(), s.despatchFaults
	st.Counters = s.counts
	st.Counters.Requests, st.Counters.Faults = maps.Clone(s.counts.Requests), s.inject.Counts()
	return st
}

// Apply makes one business change, stamping what it touches modified now.
func (s *Server) Apply(ev Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apply(ev)
}

// apply runs under s.mu.
func (s *Server) apply(ev Event) error {
	switch ev.Type {
	case "release_order", "amend_order", "cancel_order":
		return s.applyOrder(ev)
	case "despatch_note":
		return s.applyDespatchNote(ev)
	case "approve_po", "amend_po", "cancel_po":
		return s.applyPO(ev)
	}
	m, err := wire.ParseSKU(ev.SKU)
	if err != nil {
		return &EventError{err.Error()}
	}
	it := s.st.items[ev.SKU]
	if it == nil && ev.Type != "add_item" {
		return &EventError{fmt.Sprintf("%s: unknown item %s", ev.Type, ev.SKU)}
	}
	switch ev.Type {
	case "add_item":
		if it == nil {
			it = &Item{SKU: ev.SKU, Matrix: m, Description: ev.SKU, StockItem: true, Active: true, Currency: s.opts.Currency}
			s.st.items[ev.SKU] = it
		}
		if ev.Description != "" {
			it.Description = ev.Description
		}
		if ev.ClarusCode != nil {
			it.ClarusCode = *ev.ClarusCode
		}
		if ev.StockItem != nil {
			it.StockItem = *ev.StockItem
		}
		if ev.UnitCost != nil {
			it.UnitCost = *ev.UnitCost
		}
		if ev.Currency != "" {
			it.Currency = ev.Currency
		}
	case "set_item_cost":
		if ev.UnitCost == nil {
			return &EventError{"set_item_cost: unit_cost is required"}
		}
		it.UnitCost = *ev.UnitCost
		if ev.Currency != "" {
			it.Currency = ev.Currency
		}
	case "map_item":
		switch {
		case ev.ClarusCode != nil:
			it.ClarusCode = *ev.ClarusCode
		case it.IntendedCode != "":
			it.ClarusCode = it.IntendedCode
		default:
			return &EventError{fmt.Sprintf("map_item: %s has no intended code: clarus_code is required (\"\" unmaps)", ev.SKU)}
		}
	case "discontinue_item":
		it.Active = false
	case "set_stock":
		if ev.Warehouse == "" || ev.Available == nil {
			return &EventError{"set_stock: warehouse and available are required"}
		}
		if !it.StockItem {
			return &EventError{fmt.Sprintf("set_stock: %s is a non-stock item", ev.SKU)}
		}
		s.st.setLevel(ev.SKU, ev.Warehouse, *ev.Available, ManualSetBy, s.tick())
		return nil
	default:
		return &EventError{fmt.Sprintf("unknown event type %q", ev.Type)}
	}
	it.Modified = s.tick()
	return nil
}

// Faults are the failures the simulator injects into wsomhandler and
// comwsomhandler calls, answered with a SOAP Fault body: simkit's HTTP
// faults, of which Prima has no others. An alias, so that Faults{...}
// literals and the JSON names of /_sim/faults stay what they were.
type Faults = simkit.Faults

// Counters count what the simulator did, for tests and the demo summary.
type Counters struct {
	Requests       map[string]int `json:"requests"` // by RequestType
	Faults         map[string]int `json:"faults"`   // by kind: 429, 500, 503, timeout_after_write, malformed
	BatchesApplied int            `json:"batches_applied"`
	BatchRepeats   int            `json:"batch_repeats"`
	// DespatchNotesCreated counts notes stored (by request or by hand);
	// DespatchDuplicates those whose reference a note had already, each a
	// second invoice in a real Prima: tests assert none; DespatchDropped
	// the posts the drop fault answered OK and dropped.
	DespatchNotesCreated int `json:"despatch_notes_created"`
	DespatchDuplicates   int `json:"despatch_duplicates"`
	DespatchDropped      int `json:"despatch_dropped"`
}

func newCounters() Counters {
	return Counters{Requests: map[string]int{}, Faults: map[string]int{}}
}

// SetFaults replaces the injected faults; a non-zero Seed restarts the draws.
func (s *Server) SetFaults(f Faults) { s.inject.Set(f) }

// Faults returns the injected faults.
func (s *Server) Faults() Faults { return s.inject.Faults() }

// setFaults is POST /_sim/faults: the faults are checked, then set.
func (s *Server) setFaults(f Faults) (Faults, error) {
	if err := f.Validate(); err != nil {
		return f, err
	}
	s.SetFaults(f)
	return f, nil
}

// handleEvents applies one event or {"events": [...]} in order, stopping
// at the first refusal.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	events, ok := simkit.DecodeBatch[Event](w, r)
	if !ok {
		return
	}
	for i, ev := range events {
		if err := s.Apply(ev); err != nil {
			simkit.WriteJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": fmt.Sprintf("event %d: %v", i, err), "applied": i})
			return
		}
	}
	simkit.WriteJSON(w, http.StatusOK, map[string]any{"applied": len(events)})
}

// ScenarioResult is what POST /_sim/scenario answers.
type ScenarioResult struct {
	Items  int          `json:"items"`
	Orders *OrderReport `json:"orders,omitempty"` // when the scenario asked for orders
	// PurchaseOrders is there when the scenario asked for purchase orders.
	PurchaseOrders *POReport `json:"purchase_orders,omitempty"`
}

// scenario is POST /_sim/scenario: the item master, then the orders and
// the purchase orders over it when sc.Orders and sc.PurchaseOrders ask
// for them.
func (s *Server) scenario(sc Scenario) (ScenarioResult, error) {
	n, err := s.RunScenario(sc)
	res := ScenarioResult{Items: n}
	if err == nil && sc.Orders != nil {
		rep, oerr := s.GenerateOrders(*sc.Orders)
		res.Orders, err = &rep, oerr
	}
	if err == nil && sc.PurchaseOrders != nil {
		rep, perr := s.GeneratePOs(*sc.PurchaseOrders)
		res.PurchaseOrders, err = &rep, perr
	}
	return res, err
}
