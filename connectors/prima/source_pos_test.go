package prima_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/lockstep-dev/lockstep/connectors/deadletter"
	"github.com/lockstep-dev/lockstep/connectors/prima"
	"github.com/lockstep-dev/lockstep/connectors/prima/primasim"
	"github.com/lockstep-dev/lockstep/schemas"
)

// poEnv is a source env whose cluster has prima.purchase-orders, and the
// cluster itself, for tests that make Kafka fail.
type poEnv struct {
	*sourceEnv
	kafka *kfake.Cluster
}

func newPOEnv(t *testing.T) *poEnv {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(1),
		kfake.SeedTopics(1, schemas.TopicPurchaseOrders, schemas.TopicSourceCursors, schemas.TopicDLQ))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	e := &sourceEnv{clock: newClock(), kopts: []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)},
		serde: schemas.NewSerde(schemas.NewMemRegistry())}
	sim, srv := newSim(t, e.clock, primasim.Options{})
	e.sim, e.cfg = sim, testConfig(srv.URL)
	e.cfg.PageSize = 3
	mustApply(t, e.sim, primasim.Event{Type: "add_item", SKU: "ST1/BLK/9"}, primasim.Event{Type: "add_item", SKU: "ST1/BLK/10"})
	return &poEnv{sourceEnv: e, kafka: c}
}

// poSource is a source of the purchase-order feed alone, as the inbound
// flow turns it on.
func (e *poEnv) poSource(t *testing.T) *prima.Source {
	t.Helper()
	src, err := prima.NewSource(e.cfg, newClient(t, e.cfg), e.serde,
		prima.Options{Clock: e.clock, Feeds: []string{prima.CursorKeyPurchaseOrders}}, e.kopts...)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func (e *poEnv) pollPOs(t *testing.T) (prima.PollStats, map[string]prima.Cursor) {
	t.Helper()
	src := e.poSource(t)
	defer src.Close()
	st, err := src.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st, src.Cursors()
}

func poLine(no int, sku string, qty int64, cost string) primasim.POLine {
	return primasim.POLine{LineNo: no, SKU: sku, Quantity: qty, UnitCost: schemas.MustParseDecimal(cost)}
}

// Approved, amended and cancelled POs reach prima.purchase-orders with
// their status from the record, keyed by ref, one event id per version;
// a PO the source cannot read (a date in another format) and one too
// large for Kafka go to the DLQ with why and their text, in their page's
// transaction, and the POs after them go on; a PO only the business
// would refuse passes for the inbound processor. The cursor stops at the
// last PO committed, and a restarted source resumes after it: nothing
// twice.
func TestSourcePurchaseOrders(t *testing.T) {
	e := newPOEnv(t)
	ctx := context.Background()
	mustApply(t, e.sim,
		primasim.Event{Type: "approve_po", PORef: "PO1", SupplierRef: "SUP001", Warehouse: "WH1", ExpectedDate: "2026-03-20",
			POLines: []primasim.POLine{poLine(1, "ST1/BLK/9", 24, "12.34"), poLine(2, "ST1/BLK/10", 12, "12.34")}},
		// The business's to refuse, not the source's: a line number
		// twice, a zero and a negative quantity, no date.
		primasim.Event{Type: "approve_po", PORef: "PO2-ODD", SupplierRef: "SUP002", Warehouse: "WH2",
			POLines: []primasim.POLine{poLine(1, "ST1/BLK/9", 0, "1"), poLine(1, "ST1/BLK/10", -4, "1"), poLine(3, "ST1/BLK/9", 1, "1")}},
		primasim.Event{Type: "approve_po", PORef: "PO3-BADDATE", SupplierRef: "SUP001", Warehouse: "WH1", ExpectedDate: "20/03/2026",
			POLines: []primasim.POLine{poLine(1, "ST1/BLK/9", 6, "12.34")}},
		primasim.Event{Type: "approve_po", PORef: "PO4", SupplierRef: "SUP003", Warehouse: "WH1", Currency: "EUR", ExpectedDate: "2026-04-01",
			POLines: []primasim.POLine{poLine(1, "ST1/BLK/10", 48, "9.5")}},
	)
	st, cursors := e.pollPOs(t)
	if st.PurchaseOrders != 3 || st.DeadLetters != 1 || st.Pages != 2 || st.Items != 0 || st.SalesOrders != 0 {
		t.Fatalf("first poll %+v, want 3 POs and 1 dead letter in 2 pages", st)
	}
	truth := e.sim.State()
	last := truth.PurchaseOrders[len(truth.PurchaseOrders)-1]
	if c := cursors[prima.CursorKeyPurchaseOrders]; c.Key != "PO4" || last.Ref != "PO4" || !c.Modified.Equal(last.Modified) || c.CaughtUpAt.IsZero() {
		t.Fatalf("cursor %+v, last PO %s at %v", c, last.Ref, last.Modified)
	}
	if _, ok := cursors[prima.CursorKeyItems]; ok {
		t.Fatal("the item feed ran though only the purchase-order feed was asked for")
	}

	// Prima moves on while the source is down.
	e.clock.Advance(time.Minute)
	mustApply(t, e.sim,
		primasim.Event{Type: "amend_po", PORef: "PO1", ExpectedDate: "2026-03-27",
			POLines: []primasim.POLine{poLine(1, "ST1/BLK/9", 30, "12.34"), poLine(2, "ST1/BLK/10", 12, "12.34")}},
		primasim.Event{Type: "cancel_po", PORef: "PO4"},
		primasim.Event{Type: "approve_po", PORef: "PO5-BIG", SupplierRef: strings.Repeat("Fournisseur Crème ", 60000), Warehouse: "WH1",
			POLines: []primasim.POLine{poLine(1, "ST1/BLK/9", 1, "1")}},
		primasim.Event{Type: "approve_po", PORef: "PO6", SupplierRef: "SUP001", Warehouse: "WH2", ExpectedDate: "2026-04-02",
			POLines: []primasim.POLine{poLine(1, "ST1/BLK/9", 2, "12.34")}},
	)
	if st, _ := e.pollPOs(t); st.PurchaseOrders != 3 || st.DeadLetters != 1 {
		t.Fatalf("after restart %+v, want 3 POs and 1 dead letter", st)
	}
	if st, _ := e.pollPOs(t); st.PurchaseOrders != 0 || st.DeadLetters != 0 || st.Pages != 0 {
		t.Fatalf("nothing changed, yet %+v", st)
	}

	var got []string
	for _, r := range committed(t, e.kopts, schemas.TopicPurchaseOrders) {
		var ev schemas.PurchaseOrder
		if err := e.serde.Decode(ctx, r.Value, &ev); err != nil {
			t.Fatal(err)
		}
		if string(r.Key) != ev.PORef || ev.EventID != fmt.Sprintf("prima:purchase-order:%s:%d", ev.PORef, ev.Version) ||
			ev.Source != schemas.SourcePrima {
			t.Fatalf("event %+v keyed %q", ev, r.Key)
		}
		expected := "none"
		if ev.ExpectedAt != nil {
			expected = ev.ExpectedAt.Format(time.DateOnly)
		}
		got = append(got, fmt.Sprintf("%s:%d:%s:%d:%s", ev.PORef, ev.Version, ev.Status, len(ev.Lines), expected))
		switch ev.PORef + fmt.Sprint(ev.Version) {
		case "PO11":
			l := ev.Lines
			if ev.SupplierRef != "SUP001" || ev.Warehouse != "WH1" || ev.Currency != "GBP" || !ev.ExpectedAt.Equal(time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)) ||
				l[0] != (schemas.PurchaseOrderLine{LineNo: 1, SKU: "ST1/BLK/9", Quantity: 24, UnitCost: schemas.MustParseDecimal("12.34")}) ||
				l[1].SKU != "ST1/BLK/10" || !ev.OccurredAt.Equal(truth.PurchaseOrders[0].Modified) {
				t.Fatalf("PO1 %+v", ev)
			}
		case "PO12":
			if ev.Lines[0].Quantity != 30 {
				t.Fatalf("PO1 amended %+v", ev)
			}
		case "PO2-ODD1":
			if ev.Lines[0].Quantity != 0 || ev.Lines[1].Quantity != -4 || ev.Lines[0].LineNo != ev.Lines[1].LineNo || ev.Warehouse != "WH2" {
				t.Fatalf("PO2 %+v", ev.Lines)
			}
		case "PO41":
			if ev.Currency != "EUR" || ev.Lines[0].UnitCost != schemas.MustParseDecimal("9.5") {
				t.Fatalf("PO4 %+v", ev)
			}
		}
	}
	want := "PO1:1:approved:2:2026-03-20 PO2-ODD:1:approved:3:none PO4:1:approved:1:2026-04-01 " +
		"PO1:2:amended:2:2026-03-27 PO4:2:cancelled:1:2026-04-01 PO6:1:approved:1:2026-04-02"
	if strings.Join(got, " ") != want {
		t.Fatalf("events\n %s\nwant\n %s", strings.Join(got, " "), want)
	}

	dead := committed(t, e.kopts, schemas.TopicDLQ)
	if len(dead) != 2 {
		t.Fatalf("%d dead letters, want 2", len(dead))
	}
	for i, w := range []struct{ key, reason, raw string }{
		{"PO3-BADDATE", `prima purchase order "PO3-BADDATE" version 1 modified 2026-03-02T09:00:00.`, `ExpectedDate="20/03/2026"`},
		{"PO5-BIG", `prima purchase order "PO5-BIG" version 1 modified 2026-03-02T09:01:00.`, `SupplierRef="Fournisseur Crème`},
	} {
		r := dead[i]
		var dl schemas.DeadLetter
		if err := e.serde.Decode(ctx, r.Value, &dl); err != nil {
			t.Fatal(err)
		}
		if string(r.Key) != w.key || !strings.HasPrefix(dl.Reason, w.reason) || dl.Stage != "prima-source" ||
			dl.OriginalTopic != schemas.TopicPurchaseOrders || dl.OriginalOffset != -1 ||
			!strings.HasPrefix(string(dl.OriginalValue), `<PurchaseOrder PONumber="`+w.key+`"`) ||
			!strings.Contains(string(dl.OriginalValue), w.raw) || header(r, deadletter.HeaderReason) != dl.Reason {
			t.Fatalf("dead letter %d keyed %q: %+v", i, r.Key, dl.Reason)
		}
		t.Logf("%s: %s", w.key, cut(dl.Reason, 300))
	}
	var dl schemas.DeadLetter
	_ = e.serde.Decode(ctx, dead[0].Value, &dl)
	if !strings.Contains(dl.Reason, `is unreadable: ExpectedDate "20/03/2026" is not a date of the form 2006-01-02`) {
		t.Fatalf("reason %q", dl.Reason)
	}
	_ = e.serde.Decode(ctx, dead[1].Value, &dl)
	if !strings.Contains(dl.Reason, "is too large") || !strings.Contains(dl.Reason, "cut to its first 262144") {
		t.Fatalf("reason %q", cut(dl.Reason, 300))
	}
}

func cut(s string, n int) string { return s[:min(n, len(s))] }

// A page and its cursor are one transaction: when Kafka fails the commit
// of the second PO page, the first page's events, dead letter and cursor
// are visible and the second's are not, and the next poll reads the
// second page again from the committed cursor: every PO once.
func TestSourcePurchaseOrdersCommitTogether(t *testing.T) {
	e := newPOEnv(t)
	for i, date := range []string{"", "tomorrow", "", "", ""} {
		mustApply(t, e.sim, primasim.Event{Type: "approve_po", PORef: fmt.Sprintf("PO%d", i+1), SupplierRef: "SUP001", Warehouse: "WH1",
			ExpectedDate: date, POLines: []primasim.POLine{poLine(1, "ST1/BLK/9", 1, "1")}})
	}
	var commits atomic.Int32
	e.kafka.ControlKey(int16(kmsg.EndTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
		r := req.(*kmsg.EndTxnRequest)
		if !r.Commit || commits.Add(1) != 2 {
			return nil, nil, false
		}
		resp := r.ResponseKind().(*kmsg.EndTxnResponse)
		resp.ErrorCode = kerr.UnknownServerError.Code // outcome unknown: the page must be aborted
		return resp, nil, true
	})
	src := e.poSource(t)
	defer src.Close()
	ctx := context.Background()
	keys := func(topic string) string {
		var out []string
		for _, r := range committed(t, e.kopts, topic) {
			out = append(out, string(r.Key))
		}
		return strings.Join(out, " ")
	}
	if st, err := src.Poll(ctx); err == nil || st.PurchaseOrders != 2 || st.DeadLetters != 1 || st.Pages != 1 {
		t.Fatalf("poll through a failed commit: %+v %v", st, err)
	}
	if pos, dead, cur := keys(schemas.TopicPurchaseOrders), keys(schemas.TopicDLQ), keys(schemas.TopicSourceCursors); pos != "PO1 PO3" ||
		dead != "PO2" || cur != prima.CursorKeyPurchaseOrders {
		t.Fatalf("after the failed second page: POs %q, dead letters %q, cursors %q", pos, dead, cur)
	}
	st, err := src.Poll(ctx)
	if err != nil || st.PurchaseOrders != 2 || st.DeadLetters != 0 || st.Pages != 1 {
		t.Fatalf("second poll %+v %v", st, err)
	}
	if pos, dead := keys(schemas.TopicPurchaseOrders), keys(schemas.TopicDLQ); pos != "PO1 PO3 PO4 PO5" || dead != "PO2" {
		t.Fatalf("POs %q and dead letters %q, want each once", pos, dead)
	}
	if c := src.Cursors()[prima.CursorKeyPurchaseOrders]; c.Key != "PO5" {
		t.Fatalf("cursor %+v", c)
	}
}
