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

// zeep, given only the WSDL URL, asks the simulator for sales orders
// modified since, and the request and the answer (a released order with
// stock and non-stock lines, a cancelled one, Latin-1 text) are valid
// against prima.xsd.
func TestZeepReadsSalesOrders(t *testing.T) {
	contracttest.Python(t)
	sim, _, url := contractSim(t)
	for _, ev := range []primasim.Event{
		{Type: "add_item", SKU: "GIFTCARD", StockItem: ptr(false)},
		{Type: "release_order", OrderRef: "SO1", Warehouse: "WH1", CustomerRef: "C1", Channel: "web",
			Delivery: &primasim.Address{Name: "Zoë Brontë", Line1: "1 Rue de la Paix", Line2: "Bât. B", City: "Lyon",
				Region: "Auvergne-Rhône-Alpes", Postcode: "69002", CountryCode: "FR"},
			Lines: []primasim.OrderLine{
				{SKU: "CAFÉ1/NOIR/9", Quantity: 2, UnitPrice: schemas.MustParseDecimal("12.5")},
				{SKU: "GIFTCARD", Quantity: 1, UnitPrice: schemas.MustParseDecimal("25")},
			}},
		{Type: "release_order", OrderRef: "SO2", Warehouse: "WH2", Lines: []primasim.OrderLine{{SKU: "ST1/BLK/9", Quantity: 1}}},
		{Type: "cancel_order", OrderRef: "SO2"},
	} {
		if err := sim.Apply(ev); err != nil {
			t.Fatal(err)
		}
	}
	req := `<?xml version="1.0"?><Request RequestType="SalesOrdersModifiedSince">` +
		`<Data ModifiedSince="2026-03-02T09:00:00.000Z" AfterKey="" PageSize="10"/></Request>`
	res := runZeep(t, url, []zeepCall{{Op: wire.OpHandler, Args: []string{req}}})[0]
	var resp wire.Response
	if err := wire.UnmarshalString(res, &resp); err != nil || resp.RequestStatus != wire.StatusOK || len(resp.Data.SalesOrders) != 2 {
		t.Fatalf("%q: %v", res, err)
	}
	if o := resp.Data.SalesOrders[0]; o.DelName != "Zoë Brontë" || o.Lines[0].Product != "CAFÉ1" || o.Lines[1].StockType != "non_stock" ||
		!strings.Contains(o.Raw(), `Region="Auvergne-Rhône-Alpes"`) {
		t.Fatalf("order %+v", o)
	}
}

// The despatch note calls as zeep makes them: lockstep's client posts a
// note (Latin-1 text), looks it up and reads the feed; zeep, given only
// the WSDL URL, sends the same three documents, each valid against
// prima.xsd as are the answers, in the same envelopes. zeep's post of the
// same note makes a second one: Prima keeps no idempotency, whoever sends.
func TestZeepPostsDespatchNotes(t *testing.T) {
	contracttest.Python(t)
	sim, rec, url := contractSim(t)
	mustApply(t, sim, primasim.Event{Type: "release_order", OrderRef: "SO1", Warehouse: "WH1",
		Lines: []primasim.OrderLine{{SKU: "ST1/BLK/9", Quantity: 2}, {SKU: "CAFÉ1/NOIR/9", Quantity: 1}}})
	api := newClient(t, testConfig(url))
	ctx := context.Background()
	note := prima.DespatchNote{Reference: "Expédition-1", OrderRef: "SO1", Warehouse: "WH1", DespatchDate: epoch, Carrier: "Café Express",
		TrackingNumber: "TRK€1", Lines: []schemas.Line{{SKU: "ST1/BLK/9", Quantity: 2}, {SKU: "CAFÉ1/NOIR/9", Quantity: 1}}}
	id, err := api.CreateDespatchNote(ctx, note)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := api.DespatchNotesByReference(ctx, note.Reference); err != nil || len(got) != 1 || got[0].Carrier != "Café Express" ||
		got[0].TrackingNumber != "TRK€1" || got[0].Lines[1].SKU != "CAFÉ1/NOIR/9" {
		t.Fatalf("%+v %v", got, err)
	}
	if p, err := api.DespatchNotes(ctx, prima.Cursor{}, 10); err != nil || len(p.Records) != 1 || p.Records[0].Note.ID != id {
		t.Fatalf("%+v %v", p, err)
	}
	goCalls := rec.take()
	results := runZeep(t, url, zeepCallsOf(t, goCalls))
	zeepCalls := rec.take()
	if len(zeepCalls) != len(goCalls) {
		t.Fatalf("zeep made %d calls, the client %d", len(zeepCalls), len(goCalls))
	}
	for i, g := range goCalls {
		if gb, zb := bodyShape(t, g.body), bodyShape(t, zeepCalls[i].body); !slices.Equal(gb, zb) {
			t.Errorf("call %d: the client's Body\n%s\nzeep's\n%s", i, strings.Join(gb, "\n"), strings.Join(zb, "\n"))
		}
	}
	var created, found wire.Response
	if err := wire.UnmarshalString(results[0], &created); err != nil || created.Data == nil || created.Data.DespatchNoteID == id {
		t.Fatalf("zeep's post: %q %v", results[0], err)
	}
	if err := wire.UnmarshalString(results[1], &found); err != nil || len(found.Data.DespatchNotes) != 2 {
		t.Fatalf("zeep's look-up: %q %v", results[1], err)
	}
	if st := sim.State(); st.Counters.DespatchDuplicates != 1 || len(st.DespatchNotesFor(note.Reference)) != 2 {
		t.Fatalf("counters %+v", st.Counters)
	}
}
