package clarus_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/clarus"
	"github.com/lockstep-dev/lockstep/connectors/clarus/clarussim"
	"github.com/lockstep-dev/lockstep/processors/stock"
	"github.com/lockstep-dev/lockstep/schemas"
)

// fold replays the topics as the stock processor does: movements deduped
// by movement id and folded, with their effects journalled; snapshots
// re-base the level. Records are applied in the order given.
type fold struct {
	levels  map[string]stock.Level
	journal map[string]*stock.Journal
	seen    map[string]bool
}

func newFold() *fold {
	return &fold{levels: map[string]stock.Level{}, journal: map[string]*stock.Journal{}, seen: map[string]bool{}}
}

func (f *fold) movement(m schemas.StockMovement) {
	if f.seen[m.MovementID] {
		return
	}
	f.seen[m.MovementID] = true
	k := schemas.StockKey(m.SKU, m.Warehouse)
	if f.journal[k] == nil {
		f.journal[k] = &stock.Journal{}
	}
	prev := f.levels[k]
	if !stock.Superseded(prev, &m) {
		f.journal[k].Record(m.OccurredAt, stock.Effect(prev.Stock, &m))
	}
	f.levels[k], _ = stock.Fold(prev, m)
}

func (f *fold) snapshot(s schemas.StockSnapshot) {
	k := schemas.StockKey(s.SKU, s.Warehouse)
	if f.journal[k] == nil {
		f.journal[k] = &stock.Journal{}
	}
	next, j, _, _ := stock.Rebase(f.levels[k], *f.journal[k], s)
	f.levels[k], *f.journal[k] = next, j
}

// A webhook that passes every check (the token, the headers) but is
// forged, reusing the id of a real record, moves lockstep's level; the next
// incremental sweep, which re-reads every SKU webhooks touched, puts it back
// to Clarus's. So does a webhook for a product Clarus does not have.
func TestForgedWebhookCorrectedByNextSweep(t *testing.T) {
	e := newSweepEnv(t, clarussim.Config{}, nil)
	e.receive(10)
	e.apply(clarussim.Event{Type: "adjust", SKU: "SKU-0003", Warehouse: "WH1", Quantity: 2, Reason: "FOUND"})
	e.deliver()
	ctx := context.Background()
	sw := e.sweeper(e.clock)
	if st, err := sw.Sweep(ctx); err != nil || !st.Full {
		t.Fatalf("first sweep %+v %v", st, err)
	}
	var real schemas.StockMovement
	for _, r := range committed(t, e.opts, schemas.TopicStockMovements) {
		if m := decodeMovement(t, e.serde, r); strings.HasPrefix(m.MovementID, "stock_adjustment/") {
			real = m
		}
	}
	e.clock.Advance(time.Minute)

	// The forgeries: the real adjustment's id on another SKU, for 500;
	// and 40 units of a product Clarus does not stock.
	id := strings.TrimPrefix(clarus.RecordPath(real.MovementID), "stock_adjustment/")
	now := e.clock.Now().Format(time.RFC3339Nano)
	for _, body := range []string{
		`{"data":{"id":` + id + `,"type":"stock_adjustments","quantity":500,"direction":"positive","product":{"code":"SKU-0004"},"warehouse":{"id":1},"created_at":"` + now + `"}}`,
		`{"data":{"id":99999,"type":"stock_adjustments","quantity":40,"direction":"positive","product":{"code":"GHOST-1"},"warehouse":{"id":2},"created_at":"` + now + `"}}`,
	} {
		h := validHook(body, "103")
		req, err := http.NewRequest(http.MethodPost, e.hooks+h.path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range h.headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("the forgery was refused (%d): this test needs one that passes the checks", resp.StatusCode)
		}
	}

	// Folded: the snapshots of the first sweep, then every movement.
	f := newFold()
	for _, s := range e.snapshots() {
		f.snapshot(s)
	}
	var forged []schemas.StockMovement
	for _, r := range committed(t, e.opts, schemas.TopicStockMovements) {
		m := decodeMovement(t, e.serde, r)
		f.movement(m)
		if m.Kind == schemas.MovementAdjustment && (m.SKU == "SKU-0004" || m.SKU == "GHOST-1") {
			forged = append(forged, m)
		}
	}
	slices.SortFunc(forged, func(a, b schemas.StockMovement) int { return strings.Compare(b.SKU, a.SKU) }) // SKU-0004 first
	if len(forged) != 2 || forged[0].MovementID == real.MovementID || clarus.RecordPath(forged[0].MovementID) != clarus.RecordPath(real.MovementID) {
		t.Fatalf("forged movements %+v (real %s): a reused id with other content must be a new movement", forged, real.MovementID)
	}
	if l := f.levels["SKU-0004@WH1"]; l.OnHand != 504 {
		t.Fatalf("the forgery did not reach the fold: %+v", l)
	}
	if l := f.levels["GHOST-1@WH2"]; l.OnHand != 40 {
		t.Fatalf("the ghost did not reach the fold: %+v", l)
	}

	e.clock.Advance(time.Minute)
	st, err := sw.Sweep(ctx)
	if err != nil || st.Full || st.Keys != 2 {
		t.Fatalf("incremental sweep %+v %v", st, err)
	}
	for _, s := range e.snapshots() {
		if s.SnapshotID == st.SnapshotID {
			f.snapshot(s)
		}
	}
	truth := map[string]clarussim.Balance{}
	for _, b := range e.sim.State().Stock {
		truth[schemas.StockKey(b.SKU, b.Warehouse)] = b
	}
	if l, b := f.levels["SKU-0004@WH1"], truth["SKU-0004@WH1"]; l.OnHand != b.OnHand || l.Held != b.Held || l.Allocated != b.Allocated {
		t.Fatalf("after the sweep SKU-0004@WH1 is %+v, Clarus %+v", l.Stock, b)
	}
	if l := f.levels["GHOST-1@WH2"]; !l.Stock.IsZero() {
		t.Fatalf("after the sweep the ghost is %+v, Clarus has none", l.Stock)
	}
	if _, ok := truth["GHOST-1@WH2"]; ok {
		t.Fatal("the simulator holds the ghost")
	}
}
