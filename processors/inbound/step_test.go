package inbound

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/processors/itemmaster"
	"github.com/lockstep-dev/lockstep/schemas"
)

var (
	t0      = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	in72h   = t0.Add(72 * time.Hour)
	in100h  = t0.Add(100 * time.Hour)
	in2h    = t0.Add(2 * time.Hour)
	gbp     = func(s string) schemas.Decimal { return schemas.MustParseDecimal(s) }
	catalog = itemmaster.Static{
		"BOOT/9": {ClarusCode: "SKU-1", StockItem: true, Active: true, UnitCost: gbp("5"), Currency: "GBP"},
		"BOOT/8": {ClarusCode: "SKU-2", StockItem: true, Active: true, UnitCost: gbp("4"), Currency: "GBP"},
		"SCARF":  {ClarusCode: "SKU-3", StockItem: true, Active: true, UnitCost: gbp("2.5"), Currency: "GBP"},
		"NEW/7":  {StockItem: true, Active: true},                        // not mapped yet
		"OLD/7":  {ClarusCode: "SKU-99", StockItem: true, Active: false}, // discontinued
		"GIFT":   {ClarusCode: "SKU-G", StockItem: false, Active: true},  // non-stock
	}
	mapped = with(catalog, "NEW/7", itemmaster.Item{ClarusCode: "SKU-7", StockItem: true, Active: true, UnitCost: gbp("1"), Currency: "GBP"})
)

func with(s itemmaster.Static, sku string, it itemmaster.Item) itemmaster.Static {
	out := itemmaster.Static{sku: it}
	for k, v := range s {
		if k != sku {
			out[k] = v
		}
	}
	return out
}

func master(s itemmaster.Static) Master { return Master{Items: s.Items(), Codes: s.Codes()} }

var rules = Rules{LeadTime: 24 * time.Hour, AckGrace: 15 * time.Minute, RedriveInterval: 30 * time.Second, MaxLines: 10}

func pl(no int, sku string, qty int64, cost string) schemas.PurchaseOrderLine {
	return schemas.PurchaseOrderLine{LineNo: no, SKU: sku, Quantity: qty, UnitCost: gbp(cost)}
}

func po(v int64, status schemas.PurchaseOrderStatus, expected *time.Time, lines ...schemas.PurchaseOrderLine) *schemas.PurchaseOrder {
	return &schemas.PurchaseOrder{PORef: "PO-1", Version: v, Status: status, SupplierRef: "SUP-1", Warehouse: "WH1", Currency: "GBP",
		ExpectedAt: expected, Lines: lines}
}

func approved(lines ...schemas.PurchaseOrderLine) *schemas.PurchaseOrder {
	return po(1, schemas.PurchaseOrderApproved, &in72h, lines...)
}

func amended(v int64, lines ...schemas.PurchaseOrderLine) *schemas.PurchaseOrder {
	return po(v, schemas.PurchaseOrderAmended, &in72h, lines...)
}

func cancelled(v int64) *schemas.PurchaseOrder { return po(v, schemas.PurchaseOrderCancelled, nil) }

func rl(code string, qty int64) schemas.Line { return schemas.Line{SKU: code, Quantity: qty} }

func receipt(id string, lines ...schemas.Line) *schemas.Receipt {
	return &schemas.Receipt{ReceiptID: id, PORef: new("PO-1"), Warehouse: "WH1", Lines: lines}
}

func ack(action schemas.ClarusReceiptAction, v int64, status schemas.ReceiptAckStatus, reason string) *schemas.ReceiptAck {
	a := &schemas.ReceiptAck{PORef: "PO-1", POVersion: v, Action: action, Status: status}
	if status != schemas.ReceiptRejected {
		a.ClarusID = new("GR-1")
	}
	if reason != "" {
		a.Reason = &reason
	}
	return a
}

// describe renders effects compactly: commands as action/version/lines,
// drift as id:status with (expected/actual) and value when it has them,
// timers as kind@offset from t0.
func describe(e Effects) string {
	var parts []string
	for _, c := range e.Commands {
		var ls []string
		for _, l := range c.Lines {
			ls = append(ls, fmt.Sprintf("%d:%s=%d", l.LineNo, l.ClarusCode, l.Quantity))
		}
		parts = append(parts, fmt.Sprintf("%s v%d [%s]", c.Action, c.POVersion, strings.Join(ls, " ")))
	}
	for _, d := range e.Drift {
		s := d.ID + ":" + string(d.Status)
		if d.Expected != nil && d.Actual != nil {
			s += fmt.Sprintf("(%d/%d)", *d.Expected, *d.Actual)
		}
		if d.Value != nil {
			s += fmt.Sprintf(" %s%s", d.Value, d.Currency)
		}
		parts = append(parts, s)
	}
	for _, t := range e.Timers {
		parts = append(parts, fmt.Sprintf("%s@%s", t.Kind, t.Due.Sub(t0)))
	}
	return strings.Join(parts, "; ")
}

// step is one input of a scenario at t0+at: a PO, a receipt, an ack, or
// the state's re-drive or check timer firing (at its due time, or at due
// when set: a superseded timer).
type step struct {
	at      time.Duration
	po      *schemas.PurchaseOrder
	rc      *schemas.Receipt
	ack     *schemas.ReceiptAck
	redrive bool
	check   bool
	due     time.Duration
	items   itemmaster.Static // nil: catalog
	want    string            // describe(effects)
	phase   Phase
	detail  string // in the last drift event's detail
}

// owner is who each kind belongs to, as the package documents it.
var owner = map[schemas.DriftKind]schemas.DriftOwner{
	schemas.DriftSKUUnmapped: "warehouse", schemas.DriftPONotInWMS: "operations", schemas.DriftOrphanReceipt: "warehouse",
	schemas.DriftReceiptOverPO: "finance", schemas.DriftReceiptSKUNotOnPO: "warehouse", schemas.DriftReceiptWrongWarehouse: "warehouse",
	DriftAmendedAfterReceipt: "operations", DriftCancelledAfterReceipt: "operations",
}

func run(t *testing.T, r Rules, ref string, steps []step) {
	t.Helper()
	st := State{Ref: ref}
	for i, s := range steps {
		now := t0.Add(s.at)
		items := catalog
		if s.items != nil {
			items = s.items
		}
		m := master(items)
		var e Effects
		switch {
		case s.po != nil:
			if err := r.ValidatePO(s.po); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if s.po.Version <= st.Version {
				t.Fatalf("step %d: version %d after %d: the wiring drops it", i, s.po.Version, st.Version)
			}
			st, e = r.PO(st, s.po, m, now)
		case s.rc != nil:
			if err := r.ValidateReceipt(s.rc); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			st, e = r.Receipt(st, s.rc, m)
		case s.ack != nil:
			st, e = r.Ack(st, s.ack)
		case s.redrive:
			due := time.UnixMilli(st.RedriveAt).UTC()
			if s.due != 0 {
				due = t0.Add(s.due)
			}
			st, e = r.Redrive(st, due, m, now)
		case s.check:
			due := time.UnixMilli(st.CheckAt).UTC()
			if s.due != 0 {
				due = t0.Add(s.due)
			}
			st, e = r.Check(st, due)
		}
		if got := describe(e); got != s.want {
			t.Errorf("step %d: effects\n got %q\nwant %q", i, got, s.want)
		}
		if st.Phase != s.phase {
			t.Errorf("step %d: phase %q, want %q", i, st.Phase, s.phase)
		}
		for _, d := range e.Drift {
			if d.Owner != owner[d.Kind] || d.Detail == "" || d.Cause == "" {
				t.Errorf("step %d: drift %s: owner %q (want %q), detail %q, cause %q", i, d.ID, d.Owner, owner[d.Kind], d.Detail, d.Cause)
			}
		}
		if s.detail != "" && (len(e.Drift) == 0 || !strings.Contains(e.Drift[len(e.Drift)-1].Detail, s.detail)) {
			t.Errorf("step %d: last drift detail lacks %q: %+v", i, s.detail, e.Drift)
		}
		// The state survives its encoding: a restore folds on.
		v, err := encodeState(st)
		if err != nil {
			t.Fatal(err)
		}
		if st, err = decodeState(v); err != nil {
			t.Fatal(err)
		}
	}
}

// check48 is the po_not_in_wms check of a PO expected at in72h: 24h
// before.
const check48 = "check@48h0m0s"

func TestPOToClarus(t *testing.T) {
	boots := []schemas.PurchaseOrderLine{pl(1, "BOOT/9", 10, "5"), pl(2, "BOOT/8", 5, "4")}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"an approved PO is sent at once; the created ack leaves nothing to check", []step{
			{po: approved(boots...), want: "create v1 [1:SKU-1=10 2:SKU-2=5]; " + check48, phase: PhaseSent},
			{ack: ack(schemas.ClarusReceiptCreate, 1, schemas.ReceiptCreated, ""), want: "", phase: PhaseSent},
			{at: 48 * time.Hour, check: true, want: "", phase: PhaseSent},
		}},
		{"an unmapped SKU holds the whole PO until its mapping arrives", []step{
			{po: approved(pl(1, "BOOT/9", 10, "5"), pl(2, "NEW/7", 3, "1")),
				want: "sku_unmapped/po/PO-1/NEW/7:open; redrive@30s; " + check48, phase: PhaseHeld,
				detail: "SKU NEW/7 (line 2, 3 units) is without a Clarus product code"},
			{at: 10 * time.Second, redrive: true, due: 10 * time.Second, items: mapped, want: "", phase: PhaseHeld}, // not the armed timer
			{at: 30 * time.Second, redrive: true, want: "redrive@1m0s", phase: PhaseHeld},
			{at: time.Minute, redrive: true, items: mapped,
				want: "create v1 [1:SKU-1=10 2:SKU-7=3]; sku_unmapped/po/PO-1/NEW/7:resolved", phase: PhaseSent},
			{at: 2 * time.Minute, redrive: true, due: time.Minute, items: mapped, want: "", phase: PhaseSent},
		}},
		{"unknown, discontinued and non-stock SKUs hold too; an amendment that drops one resolves it", []step{
			{po: approved(pl(1, "NOPE/1", 1, "1"), pl(2, "OLD/7", 1, "1"), pl(3, "GIFT", 1, "1")),
				want:  "sku_unmapped/po/PO-1/NOPE/1:open; sku_unmapped/po/PO-1/OLD/7:open; sku_unmapped/po/PO-1/GIFT:open; redrive@30s; " + check48,
				phase: PhaseHeld, detail: "SKU GIFT (line 3, 1 units) is not a stock item"},
			{at: time.Second, po: amended(2, pl(2, "OLD/7", 1, "1")),
				want: "sku_unmapped/po/PO-1/GIFT:resolved; sku_unmapped/po/PO-1/NOPE/1:resolved", phase: PhaseHeld},
			{at: 2 * time.Second, po: cancelled(3), want: "sku_unmapped/po/PO-1/OLD/7:resolved", phase: PhaseCancelled},
			{at: 30 * time.Second, redrive: true, items: mapped, want: "", phase: PhaseCancelled},
		}},
		{"an amendment is forwarded as an update while nothing was received; a change of cost alone is not", []step{
			{po: approved(boots...), want: "create v1 [1:SKU-1=10 2:SKU-2=5]; " + check48, phase: PhaseSent},
			{po: amended(2, pl(1, "BOOT/9", 10, "4.5"), pl(2, "BOOT/8", 5, "4")), want: "", phase: PhaseSent},
			{po: amended(3, pl(1, "BOOT/9", 12, "4.5")), want: "update v3 [1:SKU-1=12]", phase: PhaseSent},
			{ack: ack(schemas.ClarusReceiptUpdate, 3, schemas.ReceiptUpdated, ""), want: "", phase: PhaseSent},
			{po: amended(4, pl(1, "BOOT/9", 12, "4.5")), want: "", phase: PhaseSent},
		}},
		{"an amendment with an unmapped SKU holds the update, not the pre-receipt", []step{
			{po: approved(boots...), want: "create v1 [1:SKU-1=10 2:SKU-2=5]; " + check48, phase: PhaseSent},
			{po: amended(2, append(boots, pl(3, "NEW/7", 2, "1"))...), want: "sku_unmapped/po/PO-1/NEW/7:open; redrive@30s", phase: PhaseSent},
			{at: 30 * time.Second, redrive: true, items: mapped,
				want: "update v2 [1:SKU-1=10 2:SKU-2=5 3:SKU-7=2]; sku_unmapped/po/PO-1/NEW/7:resolved", phase: PhaseSent},
		}},
		{"Clarus refusing an update is an exception, resolved when a later one lands", []step{
			{po: approved(boots...), want: "create v1 [1:SKU-1=10 2:SKU-2=5]; " + check48, phase: PhaseSent},
			{po: amended(2, pl(1, "BOOT/9", 8, "5")), want: "update v2 [1:SKU-1=8]", phase: PhaseSent},
			{ack: ack(schemas.ClarusReceiptUpdate, 2, schemas.ReceiptRejected, "receiving started"),
				want: "po_amended_after_receipt/PO-1:open(15/8)", phase: PhaseSent, detail: "receiving started"},
			{ack: ack(schemas.ClarusReceiptUpdate, 2, schemas.ReceiptRejected, "receiving started"), want: "", phase: PhaseSent},
			{po: amended(3, pl(1, "BOOT/9", 9, "5")), want: "update v3 [1:SKU-1=9]", phase: PhaseSent},
			{ack: ack(schemas.ClarusReceiptUpdate, 3, schemas.ReceiptUpdated, ""), want: "po_amended_after_receipt/PO-1:resolved", phase: PhaseSent},
		}},
		{"a cancellation is forwarded while nothing was received; Prima does not revive the PO", []step{
			{po: approved(boots...), want: "create v1 [1:SKU-1=10 2:SKU-2=5]; " + check48, phase: PhaseSent},
			{po: cancelled(2), want: "cancel v2 []", phase: PhaseCancelling},
			{ack: ack(schemas.ClarusReceiptCancel, 2, schemas.ReceiptCancelled, ""), want: "", phase: PhaseCancelled},
			{po: amended(3, boots...), want: "", phase: PhaseCancelled},
			{at: 48 * time.Hour, check: true, want: "", phase: PhaseCancelled},
		}},
		{"a PO cancelled before it reached Clarus needs no cancel", []step{
			{po: approved(pl(1, "NEW/7", 3, "1")), want: "sku_unmapped/po/PO-1/NEW/7:open; redrive@30s; " + check48, phase: PhaseHeld},
			{po: cancelled(2), want: "sku_unmapped/po/PO-1/NEW/7:resolved", phase: PhaseCancelled},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { run(t, rules, "PO-1", tc.steps) })
	}
}

func TestPONotInWMS(t *testing.T) {
	boots := []schemas.PurchaseOrderLine{pl(1, "BOOT/9", 10, "5")}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"no created ack by ExpectedAt - LeadTime opens it; the created ack resolves it", []step{
			{po: approved(boots...), want: "create v1 [1:SKU-1=10]; " + check48, phase: PhaseSent},
			{at: 48 * time.Hour, check: true, want: "po_not_in_wms/PO-1:open", phase: PhaseSent, detail: "version 1 was sent and Clarus has not confirmed it"},
			{at: 49 * time.Hour, ack: ack(schemas.ClarusReceiptCreate, 1, schemas.ReceiptCreated, ""), want: "po_not_in_wms/PO-1:resolved", phase: PhaseSent},
			{ack: ack(schemas.ClarusReceiptCreate, 1, schemas.ReceiptCreated, ""), want: "", phase: PhaseSent},
		}},
		{"a PO that arrives past its due time gets the sink's grace, not an exception at once", []step{
			{at: time.Hour, po: po(1, schemas.PurchaseOrderApproved, &in2h, boots...), want: "create v1 [1:SKU-1=10]; check@1h15m0s", phase: PhaseSent},
			{at: time.Hour + 15*time.Minute, check: true, want: "po_not_in_wms/PO-1:open", phase: PhaseSent},
		}},
		{"a PO with no expected date is checked after the grace", []step{
			{po: po(1, schemas.PurchaseOrderApproved, nil, boots...), want: "create v1 [1:SKU-1=10]; check@15m0s", phase: PhaseSent},
			{at: time.Minute, ack: ack(schemas.ClarusReceiptCreate, 1, schemas.ReceiptCreated, ""), want: "", phase: PhaseSent},
			{at: 15 * time.Minute, check: true, want: "", phase: PhaseSent},
		}},
		{"a moved delivery date moves the check; the old timer does nothing; amendments alone do not move it", []step{
			{po: approved(boots...), want: "create v1 [1:SKU-1=10]; " + check48, phase: PhaseSent},
			{at: time.Hour, po: amended(2, pl(1, "BOOT/9", 11, "5")), want: "update v2 [1:SKU-1=11]", phase: PhaseSent},
			{at: 2 * time.Hour, po: po(3, schemas.PurchaseOrderAmended, &in100h, pl(1, "BOOT/9", 11, "5")),
				want: "update v3 [1:SKU-1=11]; check@76h0m0s", phase: PhaseSent},
			{at: 48 * time.Hour, check: true, due: 48 * time.Hour, want: "", phase: PhaseSent},
			{at: 76 * time.Hour, check: true, want: "po_not_in_wms/PO-1:open", phase: PhaseSent},
		}},
		{"a held PO past its due time is not in Clarus either", []step{
			{po: approved(pl(1, "NEW/7", 3, "1")), want: "sku_unmapped/po/PO-1/NEW/7:open; redrive@30s; " + check48, phase: PhaseHeld},
			{at: 48 * time.Hour, check: true, want: "po_not_in_wms/PO-1:open", phase: PhaseHeld, detail: "held until Prima's item master maps NEW/7"},
		}},
		{"a refused create opens it at once with the reason; the next version is sent again", []step{
			{po: approved(boots...), want: "create v1 [1:SKU-1=10]; " + check48, phase: PhaseSent},
			{ack: ack(schemas.ClarusReceiptCreate, 1, schemas.ReceiptRejected, "unknown supplier SUP-1"),
				want: "po_not_in_wms/PO-1:open", phase: PhaseRejected, detail: "unknown supplier SUP-1"},
			{at: 48 * time.Hour, check: true, want: "", phase: PhaseRejected},
			{at: 49 * time.Hour, po: amended(2, boots...), want: "create v2 [1:SKU-1=10]", phase: PhaseSent},
			{ack: ack(schemas.ClarusReceiptCreate, 1, schemas.ReceiptRejected, "unknown supplier SUP-1"), want: "", phase: PhaseSent},
			{ack: ack(schemas.ClarusReceiptCreate, 2, schemas.ReceiptCreated, ""), want: "po_not_in_wms/PO-1:resolved", phase: PhaseSent},
		}},
		{"a cancellation resolves it", []step{
			{po: approved(boots...), want: "create v1 [1:SKU-1=10]; " + check48, phase: PhaseSent},
			{at: 48 * time.Hour, check: true, want: "po_not_in_wms/PO-1:open", phase: PhaseSent},
			{at: 49 * time.Hour, po: cancelled(2), want: "cancel v2 []; po_not_in_wms/PO-1:resolved", phase: PhaseCancelling},
			{ack: ack(schemas.ClarusReceiptCreate, 1, schemas.ReceiptRejected, "late"), want: "", phase: PhaseCancelled},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { run(t, rules, "PO-1", tc.steps) })
	}
}
