package wire

import (
	"strings"
	"testing"
)

// A SalesOrder decodes whatever its attribute values, keeping its text
// for a dead letter; one past MaxSalesOrderBytes keeps its attributes and
// the start of its text, and the page around it still decodes.
func TestSalesOrderKeepsItsText(t *testing.T) {
	big := strings.Repeat(`<OrderLine OrderLine="1" Product="P" Quantity="1" Price="1" StockType="stock" Description="`+
		strings.Repeat("é", 200)+`"/>`, MaxSalesOrderBytes/400+10)
	doc := `<Response RequestStatus="OK"><Data More="true">` +
		`<SalesOrder OrderNumber="SO1" Version="two" Status="Released" Modified="2026-03-02T09:00:00Z" Town="Köln &amp; Bonn">` +
		`<!-- a comment --><OrderLine OrderLine="1" Product="ST1" MtrxCode1="BLK" Quantity="1.5" Price="x" StockType="service"/>` +
		`</SalesOrder>` +
		`<SalesOrder OrderNumber="SO2" Version="1" Modified="2026-03-02T09:00:01Z">` + big + `</SalesOrder>` +
		`<SalesOrder OrderNumber="SO3" Version="1"/>` +
		`</Data></Response>`
	var r Response
	if err := UnmarshalString(doc, &r); err != nil {
		t.Fatal(err)
	}
	os := r.Data.SalesOrders
	if len(os) != 3 {
		t.Fatalf("%d orders", len(os))
	}
	o := os[0]
	if o.OrderNumber != "SO1" || o.Version != "two" || o.Town != "Köln & Bonn" || len(o.Lines) != 1 ||
		o.Lines[0].Quantity != "1.5" || o.Lines[0].StockType != "service" || o.Lines[0].MtrxCode1 != "BLK" || o.Oversize() {
		t.Fatalf("order %+v", o)
	}
	want := `<SalesOrder OrderNumber="SO1" Version="two" Status="Released" Modified="2026-03-02T09:00:00Z" Town="Köln &amp; Bonn">` +
		`<OrderLine OrderLine="1" Product="ST1" MtrxCode1="BLK" Quantity="1.5" Price="x" StockType="service"></OrderLine></SalesOrder>`
	if o.Raw() != want {
		t.Fatalf("raw\n %s\nwant\n %s", o.Raw(), want)
	}
	first := o
	o = os[1]
	if !o.Oversize() || o.OrderNumber != "SO2" || o.Modified != "2026-03-02T09:00:01Z" || len(o.Lines) != 0 ||
		len(o.Raw()) > MaxSalesOrderBytes || !strings.HasPrefix(o.Raw(), `<SalesOrder OrderNumber="SO2"`) {
		t.Fatalf("oversize order: %v, %d lines, %d bytes of text", o.Oversize(), len(o.Lines), len(o.Raw()))
	}
	if os[2].Oversize() || os[2].Raw() != `<SalesOrder OrderNumber="SO3" Version="1"></SalesOrder>` {
		t.Fatalf("order after the big one: %q", os[2].Raw())
	}
	// What the simulator writes, the connector reads back.
	b, err := MarshalString(r)
	if err != nil {
		t.Fatal(err)
	}
	var again Response
	if err := UnmarshalString(b, &again); err != nil || len(again.Data.SalesOrders) != 3 {
		t.Fatalf("round trip: %v", err)
	}
	back := again.Data.SalesOrders[0]
	if back.Town != first.Town || back.Lines[0] != os[0].Lines[0] || !strings.Contains(back.Raw(), `Price="x" StockType="service"`) {
		t.Fatalf("round trip: %+v", back)
	}
}

func TestCutUTF8(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{{"abc", 5, "abc"}, {"abc", 2, "ab"}, {"aé", 2, "a"}, {"aé", 3, "aé"}, {"é", 0, ""}} {
		if got := CutUTF8(tc.s, tc.n); got != tc.want {
			t.Errorf("CutUTF8(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}
