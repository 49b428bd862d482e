package prima_test

import (
	"strings"
	"testing"

	"github.com/lockstep-dev/lockstep/connectors/contracttest"
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
