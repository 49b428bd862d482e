package primasim

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
)

// POScenario approves purchase orders over the item master's mapped stock
// items (run it after RunScenario), then amends and cancels a seeded few,
// for the inbound flow to pre-receipt in Clarus. A zero field takes its
// default; a negative fraction asks for none.
type POScenario struct {
	Seed uint64 `json:"seed"`            // 0: the simulator's Seed
	POs  int    `json:"purchase_orders"` // default 20
	// Warehouses spreads the POs over the depots WH1...WHn; default 1.
	Warehouses int `json:"warehouses"`
	// Suppliers spreads them over SUP001...; default 3.
	Suppliers int `json:"suppliers"`
	// MaxLines bounds a PO's lines, 1 to MaxLines, one SKU each; default
	// 5 (fewer when the item master has fewer items).
	MaxLines int `json:"max_lines"`
	// MaxQuantity bounds a line's units, 1 to MaxQuantity; default 48.
	MaxQuantity int64 `json:"max_quantity"`
	// LeadDays bounds the expected delivery date, 1 to LeadDays days
	// after the simulator's today; default 21.
	LeadDays       int     `json:"lead_days"`
	AmendFraction  float64 `json:"amend_fraction"`  // of the POs, amended once; default 0.1
	CancelFraction float64 `json:"cancel_fraction"` // of the POs, cancelled; default 0.05
	// DeferChanges leaves the amendments and cancellations out: they are
	// returned in POReport.Changes for the caller to Apply later (once a
	// source has seen every approval, say). The report describes the POs
	// as they stand after the changes.
	DeferChanges bool `json:"defer_changes"`
}

// PO amendment kinds in POTruth.Amendment, beside AmendQuantity (one
// line's units).
const (
	AmendPOLines      = "lines"         // a line of another item added
	AmendExpectedDate = "expected_date" // the delivery moved later
)

// POReport is the ground truth of a GeneratePOs run.
type POReport struct {
	Seed      uint64    `json:"seed"`
	POs       []POTruth `json:"purchase_orders"` // in approval order
	Lines     int       `json:"lines"`
	Amended   int       `json:"amended"`
	Cancelled int       `json:"cancelled"`
	// Changes are the amend_po and cancel_po events, in order, when
	// DeferChanges held them back.
	Changes []Event `json:"changes,omitempty"`
}

// POTruth is one generated PO as it stands after the run.
type POTruth struct {
	Ref          string   `json:"po_ref"`
	SupplierRef  string   `json:"supplier_ref"`
	Warehouse    string   `json:"warehouse"`
	ExpectedDate string   `json:"expected_date"`
	Version      int64    `json:"final_version"`
	Status       string   `json:"final_status"` // POApproved or POCancelled
	Lines        []POLine `json:"lines"`
	Amendment    string   `json:"amendment,omitempty"` // AmendQuantity, AmendPOLines or AmendExpectedDate
}

func (sc POScenario) withDefaults(seed uint64) (POScenario, error) {
	sc.Seed = cmp.Or(sc.Seed, seed)
	sc.POs = cmp.Or(sc.POs, 20)
	sc.Warehouses = cmp.Or(sc.Warehouses, 1)
	sc.Suppliers = cmp.Or(sc.Suppliers, 3)
	sc.MaxLines = cmp.Or(sc.MaxLines, 5)
	sc.MaxQuantity = cmp.Or(sc.MaxQuantity, 48)
	sc.LeadDays = cmp.Or(sc.LeadDays, 21)
	sc.AmendFraction = fraction(sc.AmendFraction, 0.1)
	sc.CancelFraction = fraction(sc.CancelFraction, 0.05)
	switch {
	case sc.POs < 0 || sc.Warehouses < 0 || sc.Suppliers < 0 || sc.MaxLines < 0 || sc.MaxQuantity < 0 || sc.LeadDays < 0:
		return sc, errors.New("purchase order scenario: counts must not be negative")
	case sc.AmendFraction+sc.CancelFraction > 1:
		return sc, errors.New("purchase order scenario: fractions lie between 0 and 1, and changes (amend, cancel) add up to at most 1")
	}
	return sc, nil
}

// poRefFormat spells generated PO refs.
const poRefFormat = "PO%06d"

// GeneratePOs approves sc.POs purchase orders over the item master and
// amends or cancels some, through the same events as the control API. It
// is a function of the seed, the item master and the simulator's clock
// (the expected dates count from its today).
func (s *Server) GeneratePOs(sc POScenario) (POReport, error) {
	sc, err := sc.withDefaults(s.opts.Seed)
	if err != nil {
		return POReport{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := poGenerator{s: s, sc: sc, rng: rand.New(rand.NewPCG(sc.Seed, 0x90e5)),
		today: s.opts.Clock().UTC().Truncate(24 * time.Hour)}
	for _, it := range slices.SortedFunc(maps.Values(s.st.items), func(a, b *Item) int { return cmp.Compare(a.SKU, b.SKU) }) {
		if it.Active && it.StockItem && it.ClarusCode != "" {
			g.items = append(g.items, it)
		}
	}
	if len(g.items) == 0 {
		return POReport{}, errors.New("purchase order scenario: the item master has no mapped stock items; run the item scenario first")
	}
	rep := POReport{Seed: sc.Seed, POs: make([]POTruth, 0, sc.POs)}
	next := 1
	for range sc.POs {
		for s.st.pos[fmt.Sprintf(poRefFormat, next)] != nil {
			next++ // refs of POs made before stay theirs
		}
		ev, truth := g.po(fmt.Sprintf(poRefFormat, next))
		next++
		if err := s.apply(ev); err != nil {
			return rep, err
		}
		rep.POs = append(rep.POs, truth)
	}
	for i := range rep.POs {
		ev, ok := g.change(&rep.POs[i])
		switch {
		case !ok:
		case sc.DeferChanges:
			rep.Changes = append(rep.Changes, ev)
		default:
			if err := s.apply(ev); err != nil {
				return rep, err
			}
		}
	}
	for _, o := range rep.POs {
		rep.Lines += len(o.Lines)
		if o.Amendment != "" {
			rep.Amended++
		}
		if o.Status == POCancelled {
			rep.Cancelled++
		}
	}
	return rep, nil
}

// poGenerator draws POs over items, sorted by SKU so that a seed always
// draws the same.
type poGenerator struct {
	s     *Server
	sc    POScenario
	rng   *rand.Rand
	items []*Item // active, mapped stock items
	today time.Time
}

// po draws one approve_po event and its truth.
func (g *poGenerator) po(ref string) (Event, POTruth) {
	n := 1 + g.rng.IntN(min(g.sc.MaxLines, len(g.items)))
	lines := make([]POLine, n)
	for i, j := range g.rng.Perm(len(g.items))[:n] { // a SKU once per PO
		lines[i] = g.line(i+1, g.items[j])
	}
	t := POTruth{Ref: ref, Version: 1, Status: POApproved, Lines: lines,
		SupplierRef:  fmt.Sprintf("SUP%03d", 1+g.rng.IntN(g.sc.Suppliers)),
		Warehouse:    fmt.Sprintf("WH%d", 1+g.rng.IntN(g.sc.Warehouses)),
		ExpectedDate: g.today.AddDate(0, 0, 1+g.rng.IntN(g.sc.LeadDays)).Format(wire.DateLayout)}
	return Event{Type: "approve_po", PORef: ref, SupplierRef: t.SupplierRef, Warehouse: t.Warehouse,
		Currency: g.s.opts.Currency, ExpectedDate: t.ExpectedDate, POLines: lines}, t
}

// line draws the units of item it, at its cost, as line no.
func (g *poGenerator) line(no int, it *Item) POLine {
	return POLine{LineNo: no, SKU: it.SKU, Quantity: 1 + g.rng.Int64N(g.sc.MaxQuantity), UnitCost: it.UnitCost}
}

// change draws whether o is cancelled, amended or left alone, and the
// event that does it, updating o to the PO it leaves.
func (g *poGenerator) change(o *POTruth) (Event, bool) {
	r := g.rng.Float64()
	switch {
	case r < g.sc.CancelFraction:
		o.Version++
		o.Status = POCancelled
		return Event{Type: "cancel_po", PORef: o.Ref}, true
	case r >= g.sc.CancelFraction+g.sc.AmendFraction:
		return Event{}, false
	}
	ev := Event{Type: "amend_po", PORef: o.Ref}
	kind := []string{AmendQuantity, AmendPOLines, AmendExpectedDate}[g.rng.IntN(3)]
	if kind == AmendPOLines && len(o.Lines) == len(g.items) {
		kind = AmendQuantity // every item is on it already
	}
	switch kind {
	case AmendExpectedDate:
		d, _ := time.Parse(wire.DateLayout, o.ExpectedDate) // drawn above
		o.ExpectedDate = d.AddDate(0, 0, 1+g.rng.IntN(7)).Format(wire.DateLayout)
		ev.ExpectedDate = o.ExpectedDate
	case AmendQuantity:
		lines := slices.Clone(o.Lines)
		lines[g.rng.IntN(len(lines))].Quantity += 1 + g.rng.Int64N(12)
		ev.POLines, o.Lines = lines, lines
	case AmendPOLines:
		var it *Item
		for it == nil || slices.ContainsFunc(o.Lines, func(l POLine) bool { return l.SKU == it.SKU }) {
			it = g.items[g.rng.IntN(len(g.items))]
		}
		lines := append(slices.Clone(o.Lines), g.line(len(o.Lines)+1, it))
		ev.POLines, o.Lines = lines, lines
	}
	o.Version++
	o.Amendment = kind
	return ev, true
}
