package prima_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/prima"
	"github.com/lockstep-dev/lockstep/connectors/prima/primasim"
	"github.com/lockstep-dev/lockstep/schemas"
)

// Items pages through the item master in (Modified, SKU) order; the cursor
// picks up exactly what changed after it.
func TestClientItemsPagesWithCursor(t *testing.T) {
	clock := newClock()
	sim, srv := newSim(t, clock, primasim.Options{})
	if _, err := sim.RunScenario(primasim.Scenario{Seed: 2, Items: 25, UnmappedFraction: 0.2}); err != nil {
		t.Fatal(err)
	}
	api := newClient(t, testConfig(srv.URL))
	ctx := context.Background()
	var cur prima.Cursor
	seen := map[string]prima.Item{}
	for page := 0; ; page++ {
		items, next, err := api.Items(ctx, cur, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if _, dup := seen[it.SKU]; dup {
				t.Fatalf("page %d repeats %s", page, it.SKU)
			}
			seen[it.SKU] = it
		}
		if len(items) < 10 {
			if next != cur && len(items) == 0 {
				t.Fatal("an empty page moved the cursor")
			}
			cur = next
			break
		}
		cur = next
	}
	truth := sim.State()
	if len(seen) != len(truth.Items) {
		t.Fatalf("read %d items, Prima has %d", len(seen), len(truth.Items))
	}
	for _, want := range truth.Items {
		got := seen[want.SKU]
		if got.Description != want.Description || got.ClarusCode != want.ClarusCode || got.UnitCost != want.UnitCost ||
			got.Currency != want.Currency || !got.Modified.Equal(want.Modified) || got.StockItem != want.StockItem {
			t.Fatalf("%s: got %+v, want %+v", want.SKU, got, want)
		}
	}

	changed := truth.Items[3].SKU
	if err := sim.Apply(primasim.Event{Type: "set_item_cost", SKU: changed, UnitCost: ptr(schemas.MustParseDecimal("42.4242"))}); err != nil {
		t.Fatal(err)
	}
	items, _, err := api.Items(ctx, cur, 10)
	if err != nil || len(items) != 1 || items[0].SKU != changed || items[0].UnitCost.String() != "42.4242" {
		t.Fatalf("after the cursor: %+v, %v", items, err)
	}
}

// Stock updates carry absolute levels; a repeat changes nothing, a lookup
// finds an applied batch, and levels read back through the feed and the
// documented MultiAvailableToSell.
func TestClientUpdateLookupAndLevels(t *testing.T) {
	clock := newClock()
	sim, srv := newSim(t, clock, primasim.Options{CompanyID: "DUB"})
	for _, sku := range []string{"ST1/BLK/8", "ST1/BLK/9"} {
		if err := sim.Apply(primasim.Event{Type: "add_item", SKU: sku}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := testConfig(srv.URL)
	cfg.CompanyID = "DUB"
	api := newClient(t, cfg)
	ctx := context.Background()
	batch := prima.StockBatch{Ref: "wh1-0001", Warehouse: "WH1", AsOf: epoch,
		Lines: []prima.StockLine{{SKU: "ST1/BLK/8", Available: 4}, {SKU: "ST1/BLK/9", Available: 0}}}
	if applied, err := api.LookupStockBatch(ctx, batch.Ref); err != nil || applied {
		t.Fatalf("before: %v %v", applied, err)
	}
	if err := api.UpdateStock(ctx, batch); err != nil {
		t.Fatal(err)
	}
	batch.Lines[0].Available = 99
	if err := api.UpdateStock(ctx, batch); err != nil {
		t.Fatalf("repeat: %v", err)
	}
	if applied, err := api.LookupStockBatch(ctx, batch.Ref); err != nil || !applied {
		t.Fatalf("after: %v %v", applied, err)
	}
	// The repeat was applied again (Prima does not de-duplicate): both
	// levels modified by it, in modified order.
	levels, cur, err := api.StockLevels(ctx, prima.Cursor{}, 10)
	if err != nil || len(levels) != 2 || levels[0].SKU != "ST1/BLK/9" || levels[0].Available != 0 || levels[1].Available != 99 ||
		cur.Key != "ST1/BLK/8@WH1" || !cur.Modified.Equal(levels[1].Modified) {
		t.Fatalf("levels %+v cursor %+v, %v", levels, cur, err)
	}
	avail, err := api.AvailableToSell(ctx, "WH1", []string{"ST1/BLK/8", "ST1/BLK/9"})
	if err != nil || avail["ST1/BLK/8"] != 99 || len(avail) != 2 {
		t.Fatalf("available %v, %v", avail, err)
	}
	if err := api.UpdateStock(ctx, prima.StockBatch{Ref: "x", Warehouse: "WH1", Lines: []prima.StockLine{{SKU: "bad/"}}}); !errors.Is(err, prima.ErrBadSKU) {
		t.Fatalf("bad SKU: %v", err)
	}
}

// Every failure is an *APIError that says whether to retry and whether the
// call may have been applied.
func TestClientErrorsAreTyped(t *testing.T) {
	clock := newClock()
	sim, srv := newSim(t, clock, primasim.Options{})
	if err := sim.Apply(primasim.Event{Type: "add_item", SKU: "ST1/BLK/9"}); err != nil {
		t.Fatal(err)
	}
	api := newClient(t, testConfig(srv.URL))
	update := func(ref string) error {
		return api.UpdateStock(context.Background(), prima.StockBatch{Ref: ref, Warehouse: "WH1", Lines: []prima.StockLine{{SKU: "ST1/BLK/9", Available: 1}}})
	}
	for i, tc := range []struct {
		faults               primasim.Faults
		sku                  string
		status               int
		retryable, ambiguous bool
		retryAfter           time.Duration
		msg                  string
	}{
		{faults: primasim.Faults{ThrottleRate: 1, RetryAfterSeconds: 3}, status: 429, retryable: true, retryAfter: 3 * time.Second, msg: "Too many requests"},
		{faults: primasim.Faults{UnavailableRate: 1, RetryAfterSeconds: 2}, status: 503, retryable: true, ambiguous: true, retryAfter: 2 * time.Second},
		{faults: primasim.Faults{ErrorRate: 1}, status: 500, retryable: true, ambiguous: true, msg: "Internal error"},
		{faults: primasim.Faults{TimeoutAfterWriteRate: 1}, status: 0, retryable: true, ambiguous: true, msg: "no answer"},
		{faults: primasim.Faults{MalformedRate: 1}, status: 200, retryable: true, ambiguous: true, msg: "unreadable answer"},
		{sku: "NOPE", status: 200, msg: "Line 1: unknown product NOPE"},
	} {
		sim.SetFaults(tc.faults)
		var err error
		if tc.sku != "" {
			err = api.UpdateStock(context.Background(), prima.StockBatch{Ref: "e", Warehouse: "WH1", Lines: []prima.StockLine{{SKU: tc.sku}}})
		} else {
			err = update(fmt.Sprintf("b%d", i))
		}
		var ae *prima.APIError
		if !errors.As(err, &ae) || ae.Status != tc.status || ae.Retryable != tc.retryable || ae.Ambiguous != tc.ambiguous ||
			ae.RetryAfter != tc.retryAfter || !strings.Contains(ae.Error(), tc.msg) || prima.IsRetryable(err) != tc.retryable {
			t.Errorf("case %d: %#v", i, err)
		}
	}

	// Nothing listening: retryable, and nothing can have been applied. (A
	// new client: a pooled connection the server closed could have taken
	// the request, which would be ambiguous.)
	srv.Close()
	api = newClient(t, testConfig(srv.URL))
	var ae *prima.APIError
	if err := update("gone"); !errors.As(err, &ae) || !ae.Retryable || ae.Ambiguous || ae.Status != 0 {
		t.Fatalf("refused connection: %#v", err)
	}
}

// A request that outlives the client's timeout is retryable and
// ambiguous: the server had the whole request.
func TestClientTimeoutIsAmbiguous(t *testing.T) {
	clock := newClock()
	sim, srv := newSim(t, clock, primasim.Options{})
	sim.SetFaults(primasim.Faults{TimeoutAfterWriteRate: 1, HangMS: 10_000})
	cfg := testConfig(srv.URL)
	cfg.RequestTimeout = 50 * time.Millisecond
	_, _, err := newClient(t, cfg).Items(context.Background(), prima.Cursor{}, 10)
	var ae *prima.APIError
	if !errors.As(err, &ae) || !ae.Retryable || !ae.Ambiguous || ae.Status != 0 {
		t.Fatalf("%#v", err)
	}
}

// comwsomhandler: the configured company id goes as its CompanyID part; a
// wrong one is a refusal (RequestStatus ERROR), not worth a retry.
func TestClientCompanyID(t *testing.T) {
	_, srv := newSim(t, newClock(), primasim.Options{CompanyID: "DUB"})
	cfg := testConfig(srv.URL)
	cfg.CompanyID = "LOA"
	_, _, err := newClient(t, cfg).Items(context.Background(), prima.Cursor{}, 10)
	var ae *prima.APIError
	if !errors.As(err, &ae) || ae.Status != 200 || ae.Retryable || !strings.Contains(ae.Message, `Unknown CompanyID "LOA"`) {
		t.Fatalf("%#v", err)
	}
}
