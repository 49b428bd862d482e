package prima_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/lockstep-dev/lockstep/connectors/contracttest"
	"github.com/lockstep-dev/lockstep/connectors/prima"
	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
	"github.com/lockstep-dev/lockstep/connectors/prima/primasim"
	"github.com/lockstep-dev/lockstep/schemas"
)

// lockstep's client reads purchase orders (approved, amended, cancelled,
// one with no expected date, Latin-1 text) in two pages; zeep, given only
// the WSDL URL, sends the same PurchaseOrdersModifiedSince documents in
// the same envelopes, and every request and answer is valid against
// prima.xsd.
func TestZeepReadsPurchaseOrders(t *testing.T) {
	contracttest.Python(t)
	sim, rec, url := contractSim(t)
	line := func(sku string, qty int64, cost string) primasim.POLine {
		return primasim.POLine{SKU: sku, Quantity: qty, UnitCost: schemas.MustParseDecimal(cost)}
	}
	mustApply(t, sim,
		primasim.Event{Type: "approve_po", PORef: "PO1", SupplierRef: "Sabots Crème – Lyon", Warehouse: "WH1", Currency: "EUR",
			ExpectedDate: "2026-03-20", POLines: []primasim.POLine{line("CAFÉ1/NOIR/9", 24, "12.3456"), line("ST1/BLK/9", 6, "3")}},
		primasim.Event{Type: "approve_po", PORef: "PO2", SupplierRef: "SUP002", Warehouse: "WH2", POLines: []primasim.POLine{line("ST1/BLK/9", 1, "1")}},
		primasim.Event{Type: "approve_po", PORef: "PO3", SupplierRef: "SUP003", Warehouse: "WH1", ExpectedDate: "2026-04-01"},
		primasim.Event{Type: "amend_po", PORef: "PO1", ExpectedDate: "2026-03-27"},
		primasim.Event{Type: "cancel_po", PORef: "PO2"},
	)
	api := newClient(t, testConfig(url))
	ctx := context.Background()
	var got []string
	for cur := (prima.Cursor{}); ; {
		p, err := api.PurchaseOrders(ctx, cur, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Records {
			if r.Err != nil {
				t.Fatalf("%s: %v", r.PO.Ref, r.Err)
			}
			got = append(got, r.PO.Ref+":"+r.PO.Status)
		}
		if cur = p.Next; !p.More {
			break
		}
	}
	if strings.Join(got, " ") != "PO3:Purchase PO1:Purchase PO2:Cancelled" {
		t.Fatalf("read %v", got)
	}
	goCalls := rec.take()
	results := runZeep(t, url, zeepCallsOf(t, goCalls))
	zeepCalls := rec.take()
	if len(goCalls) != 2 || len(zeepCalls) != len(goCalls) {
		t.Fatalf("zeep made %d calls, the client %d", len(zeepCalls), len(goCalls))
	}
	for i, g := range goCalls {
		if gb, zb := bodyShape(t, g.body), bodyShape(t, zeepCalls[i].body); !slices.Equal(gb, zb) {
			t.Errorf("call %d: the client's Body\n%s\nzeep's\n%s", i, strings.Join(gb, "\n"), strings.Join(zb, "\n"))
		}
	}
	var first wire.Response
	if err := wire.UnmarshalString(results[0], &first); err != nil || first.Data == nil || !first.Data.More || len(first.Data.PurchaseOrders) != 2 {
		t.Fatalf("zeep's first page: %q %v", results[0], err)
	}
	if o := first.Data.PurchaseOrders[1]; o.SupplierRef != "Sabots Crème – Lyon" || o.Lines[0].Product != "CAFÉ1" || o.Lines[0].UnitCost != "12.3456" ||
		o.Version != "2" || o.ExpectedDate != "2026-03-27" || !strings.Contains(o.Raw(), `SupplierRef="Sabots Crème – Lyon"`) {
		t.Fatalf("PO1 as zeep got it: %+v", o)
	}
}
