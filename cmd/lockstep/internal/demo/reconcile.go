package demo

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/lockstep-dev/lockstep/analytics"
	"github.com/lockstep-dev/lockstep/analytics/reconcile"
)

// checkReconciliation runs the daily reconciliation over the ledger the
// demo filled, for every day the run shipped on, and compares its lines
// with the truth: a shipment without a despatch note is exactly one Prima
// dropped or one of a goods-out lockstep never sent (the stock scenario's
// WMS- orders, which get no note by design), and every line is such a
// missing despatch. The completeness statement must hold too: each of
// those shipments has its open drift row.
func checkReconciliation(ctx context.Context, cfg analytics.Config, dir string, nonStock []string, s *sims, sum *Summary) []string {
	conn, err := analytics.Open(ctx, cfg)
	if err != nil {
		return []string{err.Error()}
	}
	defer conn.Close()
	prima := map[string]bool{}
	for _, so := range s.prima.State().SalesOrders {
		prima[so.Ref] = true
	}
	want := map[string]bool{}
	days := map[time.Time]bool{}
	shipments := s.clarus.Shipments()
	for _, sh := range shipments {
		id := strconv.FormatInt(sh.ID, 10)
		days[reconcile.Day(sh.DispatchedAt.UTC())] = true
		if s.prima.DropsDespatch(id) || !prima[sh.Reference] {
			want[id] = true
		}
	}
	notes := s.prima.State().DespatchNotes
	for _, n := range notes {
		days[reconcile.Day(n.Created.UTC())] = true
	}
	// The ledger sink inserts a second or so behind the topics.
	if p := waitFacts(ctx, conn, len(shipments), len(notes)); p != "" {
		return []string{p}
	}
	got := map[string]bool{}
	var problems []string
	for _, day := range slices.SortedFunc(maps.Keys(days), time.Time.Compare) {
		r, err := reconcile.Run(ctx, conn, day, reconcile.Options{Dir: dir, Rules: reconcile.Rules{NonStockSKUs: nonStock},
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			return append(problems, err.Error())
		}
		sum.ReconciliationLines += len(r.Lines)
		if r.HTMLPath != "" {
			sum.ReconciliationReports = append(sum.ReconciliationReports, r.HTMLPath)
		}
		for _, l := range r.Lines {
			if l.Kind != reconcile.KindMissingDespatch {
				problems = append(problems, fmt.Sprintf("%s: %s %s: %s", day.Format(time.DateOnly), l.Kind, l.ShipmentID, l.Detail))
				continue
			}
			got[l.ShipmentID] = true
		}
		for _, id := range r.Unaccounted {
			problems = append(problems, fmt.Sprintf("%s: shipment %s has neither a despatch note nor an open drift row", day.Format(time.DateOnly), id))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(want)) {
		if !got[id] {
			problems = append(problems, fmt.Sprintf("shipment %s has no despatch note, but the report does not list it", id))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(got)) {
		if !want[id] {
			problems = append(problems, fmt.Sprintf("shipment %s listed missing_despatch, though lockstep sent its order and Prima was not told to drop its note", id))
		}
	}
	return problems
}

// waitFacts waits until the fact tables hold every shipment and note the
// simulators have, or says what is missing after 60s.
func waitFacts(ctx context.Context, conn driver.Conn, shipments, notes int) string {
	deadline := time.Now().Add(60 * time.Second)
	for {
		var sh, n uint64
		err := conn.QueryRow(ctx, `SELECT
		    (SELECT count(DISTINCT shipment_id) FROM shipment_lines),
		    (SELECT count(DISTINCT note_id) FROM despatch_note_lines WHERE status = 'created')`).Scan(&sh, &n)
		if err != nil {
			return err.Error()
		}
		if int(sh) >= shipments && int(n) >= notes {
			return ""
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Sprintf("the ledger holds %d of %d shipments and %d of %d despatch notes", sh, shipments, n, notes)
		}
		time.Sleep(200 * time.Millisecond) // the sink flushes at least every second
	}
}
