package prima_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/deadletter"
	"github.com/lockstep-dev/lockstep/connectors/prima"
	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
	"github.com/lockstep-dev/lockstep/connectors/prima/primasim"
	"github.com/lockstep-dev/lockstep/schemas"
)

// newOrdersEnv is newSourceEnv with a cluster that also has
// prima.sales-orders.
func newOrdersEnv(t *testing.T) *sourceEnv {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(1),
		kfake.SeedTopics(1, schemas.TopicItems, schemas.TopicPrimaStockLevels, schemas.TopicSalesOrders,
			schemas.TopicSourceCursors, schemas.TopicDLQ))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	e := &sourceEnv{clock: newClock(), kopts: []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)},
		serde: schemas.NewSerde(schemas.NewMemRegistry())}
	sim, srv := newSim(t, e.clock, primasim.Options{})
	e.sim, e.cfg = sim, testConfig(srv.URL)
	e.cfg.PageSize = 3
	return e
}

func orderLine(no int, sku string, qty int64, price, stockType string) primasim.OrderLine {
	return primasim.OrderLine{LineNo: no, SKU: sku, Quantity: qty, UnitPrice: schemas.MustParseDecimal(price), StockType: stockType}
}

// Released, amended and cancelled orders reach prima.sales-orders with
// their status from the record; an order the source cannot read, and one
// too large for Kafka, go to the DLQ with why and their text, in the
// transaction of their page, and the orders after them go on; an order
// the business would refuse passes for the orders processor to judge. A
// restarted source resumes after its committed cursor: nothing twice.
func TestSourceSalesOrders(t *testing.T) {
	e := newOrdersEnv(t)
	ctx := context.Background()
	mustApply(t, e.sim, primasim.Event{Type: "add_item", SKU: "ST1/BLK/9", Description: "Derby"},
		primasim.Event{Type: "add_item", SKU: "GIFTCARD", StockItem: ptr(false)})
	addr := &primasim.Address{Name: "Zoë Ashworth", Line1: "1 High Street", City: "Leeds", Postcode: "LS1 4DY", CountryCode: "GB"}
	mustApply(t, e.sim,
		primasim.Event{Type: "release_order", OrderRef: "SO1", Warehouse: "WH1", CustomerRef: "C1", Channel: "web", Delivery: addr,
			Lines: []primasim.OrderLine{orderLine(1, "ST1/BLK/9", 2, "59.99", ""), orderLine(2, "GIFTCARD", 1, "25", "")}},
		primasim.Event{Type: "release_order", OrderRef: "SO2", Warehouse: "WH2", Lines: []primasim.OrderLine{orderLine(1, "ST1/BLK/9", 1, "59.99", "")}},
		// The business's to refuse, not the source's: a negative
		// quantity and a line number twice.
		primasim.Event{Type: "release_order", OrderRef: "SO3", Warehouse: "WH1",
			Lines: []primasim.OrderLine{orderLine(1, "ST1/BLK/9", -2, "59.99", ""), orderLine(1, "GIFTCARD", 1, "25", "")}},
		primasim.Event{Type: "release_order", OrderRef: "SO4-BAD", Warehouse: "WH1", Lines: []primasim.OrderLine{orderLine(1, "ST1/BLK/9", 1, "5", "service")}},
		primasim.Event{Type: "release_order", OrderRef: "SO5", Warehouse: "WH1", Lines: []primasim.OrderLine{orderLine(1, "GIFTCARD", 1, "25", "")}},
	)
	src := e.source(t)
	st, err := src.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cursors := src.Cursors()
	src.Close()
	if st.SalesOrders != 4 || st.DeadLetters != 1 || st.Items != 2 {
		t.Fatalf("first poll %+v, want 4 orders and 1 dead letter", st)
	}
	truth := e.sim.State()
	last := truth.SalesOrders[len(truth.SalesOrders)-1]
	if c := cursors[prima.CursorKeySalesOrders]; c.Key != last.Ref || !c.Modified.Equal(last.Modified) || c.CaughtUpAt.IsZero() {
		t.Fatalf("cursor %+v, last order %s at %v", c, last.Ref, last.Modified)
	}

	// Prima moves on while the source is down.
	e.clock.Advance(time.Minute)
	big := make([]primasim.OrderLine, 4500)
	for i := range big {
		big[i] = orderLine(i+1, "ST1/BLK/9", 1, "1", "")
		big[i].Description = strings.Repeat("Crème brûlée ", 16)
	}
	mustApply(t, e.sim,
		primasim.Event{Type: "amend_order", OrderRef: "SO1", Lines: []primasim.OrderLine{orderLine(1, "ST1/BLK/9", 3, "59.99", "")}},
		primasim.Event{Type: "cancel_order", OrderRef: "SO2"},
		primasim.Event{Type: "release_order", OrderRef: "SO6-BIG", Warehouse: "WH1", Lines: big},
		primasim.Event{Type: "amend_order", OrderRef: "SO5", Delivery: addr},
	)
	if st := e.poll(t); st.SalesOrders != 3 || st.DeadLetters != 1 || st.Items != 0 {
		t.Fatalf("after restart %+v, want 3 orders and 1 dead letter", st)
	}
	if st := e.poll(t); st.SalesOrders != 0 || st.DeadLetters != 0 || st.Pages != 0 {
		t.Fatalf("nothing changed, yet %+v", st)
	}

	var got []string
	for _, r := range committed(t, e.kopts, schemas.TopicSalesOrders) {
		var ev schemas.SalesOrder
		if err := e.serde.Decode(ctx, r.Value, &ev); err != nil {
			t.Fatal(err)
		}
		if string(r.Key) != ev.OrderRef || ev.EventID != fmt.Sprintf("prima:sales-order:%s:%d", ev.OrderRef, ev.Version) ||
			ev.Source != schemas.SourcePrima || ev.Currency != "GBP" {
			t.Fatalf("event %+v keyed %q", ev, r.Key)
		}
		got = append(got, fmt.Sprintf("%s:%d:%s:%d", ev.OrderRef, ev.Version, ev.Status, len(ev.Lines)))
		switch ev.OrderRef + fmt.Sprint(ev.Version) {
		case "SO11":
			l := ev.Lines
			if *ev.CustomerRef != "C1" || *ev.Channel != "web" || ev.Delivery == nil || ev.Delivery.Name != "Zoë Ashworth" ||
				ev.Delivery.Line2 != nil || ev.Warehouse != "WH1" || !l[0].StockItem || l[1].StockItem || l[0].Quantity != 2 ||
				l[0].UnitPrice != schemas.MustParseDecimal("59.99") || *l[0].Description != "Derby" || l[1].SKU != "GIFTCARD" {
				t.Fatalf("SO1 %+v", ev)
			}
		case "SO31":
			if ev.Lines[0].Quantity != -2 || ev.Lines[0].LineNo != ev.Lines[1].LineNo {
				t.Fatalf("SO3 %+v", ev.Lines)
			}
		}
	}
	want := "SO1:1:released:2 SO2:1:released:1 SO3:1:released:2 SO5:1:released:1 SO1:2:amended:1 SO2:2:cancelled:1 SO5:2:amended:1"
	if strings.Join(got, " ") != want {
		t.Fatalf("events\n %s\nwant\n %s", strings.Join(got, " "), want)
	}

	dead := committed(t, e.kopts, schemas.TopicDLQ)
	if len(dead) != 2 {
		t.Fatalf("%d dead letters, want 2", len(dead))
	}
	for i, w := range []struct{ key, reason, raw string }{
		{"SO4-BAD", `prima sales order "SO4-BAD" version 1 modified 2026-03-02T09:00:00.`, `StockType="service"`},
		{"SO6-BIG", `prima sales order "SO6-BIG" version 1 modified 2026-03-02T09:01:00.`, `Description="Crème brûlée`},
	} {
		r := dead[i]
		var dl schemas.DeadLetter
		if err := e.serde.Decode(ctx, r.Value, &dl); err != nil {
			t.Fatal(err)
		}
		if string(r.Key) != w.key || !strings.HasPrefix(dl.Reason, w.reason) || dl.Stage != "prima-source" ||
			dl.OriginalTopic != schemas.TopicSalesOrders || dl.OriginalOffset != -1 ||
			!strings.HasPrefix(string(dl.OriginalValue), `<SalesOrder OrderNumber="`+w.key+`"`) ||
			!strings.Contains(string(dl.OriginalValue), w.raw) || header(r, deadletter.HeaderReason) != dl.Reason {
			t.Fatalf("dead letter %d keyed %q: %+v", i, r.Key, dl)
		}
		t.Logf("%s: %s", w.key, dl.Reason)
	}
	var dl schemas.DeadLetter
	_ = e.serde.Decode(ctx, dead[0].Value, &dl)
	if !strings.Contains(dl.Reason, `line 1: ST1/BLK/9: StockType "service" is neither stock nor non_stock`) {
		t.Fatalf("reason %q", dl.Reason)
	}
	_ = e.serde.Decode(ctx, dead[1].Value, &dl)
	if !strings.Contains(dl.Reason, "is too large") || !strings.Contains(dl.Reason, "cut to its first 262144") ||
		len(dl.OriginalValue) > 256<<10 {
		t.Fatalf("reason %q, %d bytes", dl.Reason, len(dl.OriginalValue))
	}
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// A feed Prima fails does not hold the others back: with the item feed
// refused, the orders still land, and the poll reports the failure.
func TestSourceFeedFailureDoesNotStallOrders(t *testing.T) {
	e := newOrdersEnv(t)
	mustApply(t, e.sim, primasim.Event{Type: "add_item", SKU: "ST1/BLK/9"},
		primasim.Event{Type: "release_order", OrderRef: "SO1", Warehouse: "WH1", Lines: []primasim.OrderLine{orderLine(1, "ST1/BLK/9", 1, "5", "")}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if bytes.Contains(body, []byte(wire.TypeItemsModifiedSince)) {
			w.Header().Set("Content-Type", wire.ContentType)
			_, _ = w.Write(wire.MarshalReturn(wire.OpHandler, wire.PartResponse,
				`<Response RequestStatus="ERROR" RequestError="Item master unavailable"/>`))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		e.sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	e.cfg.BaseURL = srv.URL
	src := e.source(t)
	defer src.Close()
	st, err := src.Poll(context.Background())
	if err == nil || !strings.Contains(err.Error(), "Item master unavailable") || st.SalesOrders != 1 || st.Items != 0 {
		t.Fatalf("poll %+v, %v; want the order and the item feed's error", st, err)
	}
	if n := len(committed(t, e.kopts, schemas.TopicSalesOrders)); n != 1 {
		t.Fatalf("%d orders on the topic", n)
	}
}

// Options.Feeds picks the feeds a source polls, by cursor key; an unknown
// key is refused when the source is built.
func TestSourceFeedsOption(t *testing.T) {
	e := newOrdersEnv(t)
	mustApply(t, e.sim, primasim.Event{Type: "add_item", SKU: "ST1/BLK/9"},
		primasim.Event{Type: "release_order", OrderRef: "SO1", Warehouse: "WH1", Lines: []primasim.OrderLine{orderLine(1, "ST1/BLK/9", 1, "5", "")}})
	src, err := prima.NewSource(e.cfg, newClient(t, e.cfg), e.serde,
		prima.Options{Clock: e.clock, Feeds: []string{prima.CursorKeySalesOrders}}, e.kopts...)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	st, err := src.Poll(context.Background())
	if err != nil || st.SalesOrders != 1 || st.Items != 0 {
		t.Fatalf("poll %+v, %v: want the order alone", st, err)
	}
	if _, ok := src.Cursors()[prima.CursorKeyItems]; ok {
		t.Fatal("the item feed's cursor was committed")
	}
	if _, err := prima.NewSource(e.cfg, newClient(t, e.cfg), e.serde, prima.Options{Feeds: []string{"prima/orders"}}, e.kopts...); err == nil ||
		!strings.Contains(err.Error(), `unknown feed "prima/orders"`) {
		t.Fatalf("unknown feed: %v", err)
	}
}
