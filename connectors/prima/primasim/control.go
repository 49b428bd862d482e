package primasim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
	"github.com/lockstep-dev/lockstep/schemas"
)

// The control API under /_sim/: unauthenticated JSON, for tests and the
// demo, never part of what Prima serves.

// Event is a business change made in Prima by hand, as a person at a Prima
// screen would: Type is add_item (or update it), set_item_cost, map_item,
// discontinue_item or set_stock (overwrite a level: an injected drift).
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
}

// EventError is an event the ground truth refuses.
type EventError struct{ Msg string }

func (e *EventError) Error() string { return "primasim: " + e.Msg }

// State returns the ground truth.
func (s *Server) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st.snapshot()
	st.CompanyID, st.Faults = s.opts.CompanyID, s.faults
	st.Counters = newCounters()
	for k, v := range s.counts.Requests {
		st.Counters.Requests[k] = v
	}
	for k, v := range s.counts.Faults {
		st.Counters.Faults[k] = v
	}
	st.Counters.BatchesApplied, st.Counters.BatchRepeats = s.counts.BatchesApplied, s.counts.BatchRepeats
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
		if ev.ClarusCode == nil {
			return &EventError{"map_item: clarus_code is required (\"\" unmaps)"}
		}
		it.ClarusCode = *ev.ClarusCode
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

func (s *Server) handleState(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.State())
}

// handleEvents applies one event or {"events": [...]} in order, stopping
// at the first refusal.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	body, ok := readControl(w, r)
	if !ok {
		return
	}
	var batch struct {
		Events []Event `json:"events"`
	}
	if err := json.Unmarshal(body, &batch); err != nil || len(batch.Events) == 0 {
		var one Event
		if err := strictJSON(body, &one); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want an event or {\"events\": [...]}: " + err.Error()})
			return
		}
		batch.Events = []Event{one}
	}
	for i, ev := range batch.Events {
		if err := s.Apply(ev); err != nil {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": fmt.Sprintf("event %d: %v", i, err), "applied": i})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"applied": len(batch.Events)})
}

func (s *Server) handleGetFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Faults())
}

func (s *Server) handleSetFaults(w http.ResponseWriter, r *http.Request) {
	body, ok := readControl(w, r)
	if !ok {
		return
	}
	var f Faults
	if err := strictJSON(body, &f); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	for _, rate := range []float64{f.ErrorRate, f.UnavailableRate, f.ThrottleRate, f.TimeoutAfterWriteRate, f.MalformedRate} {
		if rate < 0 || rate > 1 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "rates are fractions between 0 and 1"})
			return
		}
	}
	s.SetFaults(f)
	writeJSON(w, http.StatusOK, f)
}

func (s *Server) handleScenario(w http.ResponseWriter, r *http.Request) {
	body, ok := readControl(w, r)
	if !ok {
		return
	}
	var sc Scenario
	if err := strictJSON(body, &sc); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	n, err := s.RunScenario(sc)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"items": n})
}

func readControl(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "body over 1 MiB"})
		return nil, false
	}
	return body, true
}

// strictJSON refuses unknown fields, so a misspelt fault is an error, not a
// silent no-op.
func strictJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
