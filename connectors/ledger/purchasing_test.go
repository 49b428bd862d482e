package ledger_test

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/analytics/analyticstest"
	"github.com/lockstep-dev/lockstep/connectors/ledger"
	"github.com/lockstep-dev/lockstep/schemas"
)

// TestSinkPurchasing sends purchase orders and receipts through the sink,
// each delivered more than once, with records that cannot be facts among
// them: a PO version and its replayed copy (one event id), its amendment, a
// cancellation without lines; a receipt as the webhook, the sweep (same
// event id, lines in another order) and a replay under another event id
// report it, and an orphan receipt. Each PO version and each receipt lands
// once, line for line; the bad records go to the DLQ with their reasons,
// the records after them still land, and both topics commit to their end.
func TestSinkPurchasing(t *testing.T) {
	onBrokers(t, func(t *testing.T, b *broker) {
		f := newFixture(t, b, 1)
		conn, _ := analyticstest.Migrated(t)

		expected := time.Date(2026, 3, 20, 8, 0, 0, 0, time.UTC)
		po1 := &schemas.PurchaseOrder{
			Meta: meta("prima:purchase-order:PO-1:1", schemas.SourcePrima, factsAt), PORef: "PO-1", Version: 1,
			Status: schemas.PurchaseOrderApproved, SupplierRef: "SUP-1", Warehouse: "WH1", Currency: "EUR", ExpectedAt: &expected,
			Lines: []schemas.PurchaseOrderLine{
				{LineNo: 2, SKU: "PR-B", Quantity: 5, UnitCost: schemas.NewDecimal(1, 2000)},
				{LineNo: 1, SKU: "PR-A", Quantity: 10, UnitCost: schemas.NewDecimal(2, 5000)},
			},
		}
		replayed := *po1
		replayed.IngestedAt = po1.IngestedAt.Add(time.Hour)
		amended := &schemas.PurchaseOrder{
			Meta: meta("prima:purchase-order:PO-1:2", schemas.SourcePrima, factsAt.Add(time.Hour)), PORef: "PO-1", Version: 2,
			Status: schemas.PurchaseOrderAmended, SupplierRef: "SUP-1", Warehouse: "WH1", Currency: "EUR",
			Lines: []schemas.PurchaseOrderLine{{LineNo: 1, SKU: "PR-A", Quantity: 6, UnitCost: schemas.NewDecimal(2, 5000)}},
		}
		cancelled := &schemas.PurchaseOrder{
			Meta: meta("prima:purchase-order:PO-2:3", schemas.SourcePrima, factsAt), PORef: "PO-2", Version: 3,
			Status: schemas.PurchaseOrderCancelled, SupplierRef: "SUP-2", Warehouse: "WH2", Currency: "GBP",
		}
		noRef := *amended
		noRef.EventID, noRef.PORef = "prima:purchase-order::1", ""
		farFuture := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
		tooLate := *po1
		tooLate.EventID, tooLate.PORef, tooLate.ExpectedAt = "prima:purchase-order:PO-3:1", "PO-3", &farFuture
		twice := *amended
		twice.EventID, twice.PORef = "prima:purchase-order:PO-4:1", "PO-4"
		twice.Lines = []schemas.PurchaseOrderLine{amended.Lines[0], amended.Lines[0]}

		webhook := &schemas.Receipt{
			Meta: meta("clarus:receipt:R-1", schemas.SourceClarus, factsAt.Add(2*time.Hour)), ReceiptID: "R-1", PORef: str("PO-1"),
			Warehouse: "WH1", Lines: []schemas.Line{{SKU: "CL-B", Quantity: 2}, {SKU: "CL-A", Quantity: 3}},
		}
		sweep := *webhook
		sweep.Lines = []schemas.Line{webhook.Lines[1], webhook.Lines[0]}
		sweep.IngestedAt = webhook.IngestedAt.Add(time.Minute)
		// The replay comes last, listing the lines as the webhook did.
		replay := *webhook
		replay.EventID, replay.IngestedAt = "clarus:receipt-replay:R-1", sweep.IngestedAt.Add(time.Hour)
		orphan := &schemas.Receipt{
			Meta: meta("clarus:receipt:R-2", schemas.SourceClarus, factsAt.Add(3*time.Hour)), ReceiptID: "R-2",
			Warehouse: "WH2", Lines: []schemas.Line{{SKU: "CL-C", Quantity: 1}},
		}
		negative := *orphan
		negative.EventID, negative.ReceiptID = "clarus:receipt:R-3", "R-3"
		negative.Lines = []schemas.Line{{SKU: "CL-C", Quantity: 4}, {SKU: "CL-D", Quantity: -1}}

		type bad struct {
			rec    *kgo.Record
			reason string
		}
		var bads []bad
		var recs []*kgo.Record
		good := func(topic, key string, ev schemas.Event) {
			recs = append(recs, f.produce(t, &kgo.Record{Topic: topic, Key: []byte(key), Value: f.encode(t, ev)})...)
		}
		refuse := func(topic, key string, ev schemas.Event, reason string) {
			r := f.produce(t, &kgo.Record{Topic: topic, Key: []byte(key), Value: f.encode(t, ev)})[0]
			recs, bads = append(recs, r), append(bads, bad{r, reason})
		}
		good(f.pos, "PO-1", po1)
		refuse(f.pos, "", &noRef, "po_ref is empty")
		refuse(f.pos, "PO-3", &tooLate, "expected_at 2200-01-01T00:00:00Z is outside ClickHouse DateTime's range")
		good(f.pos, "PO-1", &replayed)
		refuse(f.pos, "PO-4", &twice, "line_no 1 appears twice")
		good(f.pos, "PO-1", amended)
		good(f.pos, "PO-2", cancelled)
		good(f.receipts, "PO-1", webhook)
		refuse(f.receipts, "orphan:R-3", &negative, "line 2 (CL-D): quantity -1 is negative")
		good(f.receipts, "PO-1", &sweep)
		good(f.receipts, "PO-1", &replay)
		good(f.receipts, "orphan:R-2", orphan)

		s := f.startSink(t, conn, ledger.Config{})
		// Rows: PO-1 v1 twice 2+2, its amendment 1, the cancellation 1;
		// the receipt three times 2+2+2, the orphan 1.
		const rows = 2 + 2 + 1 + 1 + 2 + 2 + 2 + 1
		eventually(t, 60*time.Second, "all POs and receipts in and committed", func() (bool, string) {
			n, dlq := s.metric(t, mRows), s.metric(t, mDLQ)
			done := n == rows && dlq == float64(len(bads))
			for _, topic := range []string{f.pos, f.receipts} {
				var want []*kgo.Record
				for _, r := range recs {
					if r.Topic == topic {
						want = append(want, r)
					}
				}
				done = done && maps.Equal(f.committedOn(t, topic), wantCommitted(want))
			}
			return done, fmt.Sprintf("rows %v of %d, dead letters %v of %d", n, rows, dlq, len(bads))
		})

		wantPOs := [][]any{
			// po, version, line, event, status, supplier, warehouse, currency, expected, sku, qty, unit cost, occurred
			{"PO-1", int64(1), uint32(1), "prima:purchase-order:PO-1:1", "approved", "SUP-1", "WH1", "EUR", "2026-03-20 08:00:00", "PR-A", int64(10), "2.5000", "2026-03-02 14:05:06"},
			{"PO-1", int64(1), uint32(2), "prima:purchase-order:PO-1:1", "approved", "SUP-1", "WH1", "EUR", "2026-03-20 08:00:00", "PR-B", int64(5), "1.2000", "2026-03-02 14:05:06"},
			{"PO-1", int64(2), uint32(1), "prima:purchase-order:PO-1:2", "amended", "SUP-1", "WH1", "EUR", "", "PR-A", int64(6), "2.5000", "2026-03-02 15:05:06"},
			{"PO-2", int64(3), uint32(0), "prima:purchase-order:PO-2:3", "cancelled", "SUP-2", "WH2", "GBP", "", "", int64(0), "0.0000", "2026-03-02 14:05:06"},
		}
		checkTable(t, conn, `SELECT po_ref, version, line_no, event_id, status, supplier_ref, warehouse, currency,
		    ifNull(toString(expected_at), ''), sku, quantity, toString(unit_cost), toString(occurred_at)
		    FROM po_lines FINAL ORDER BY po_ref, version, line_no`, wantPOs)
		wantReceipts := [][]any{
			// receipt, line, po, warehouse, code, qty, received
			{"R-1", uint32(1), "PO-1", "WH1", "CL-A", int64(3), "2026-03-02 16:05:06"},
			{"R-1", uint32(2), "PO-1", "WH1", "CL-B", int64(2), "2026-03-02 16:05:06"},
			{"R-2", uint32(1), "", "WH2", "CL-C", int64(1), "2026-03-02 17:05:06"},
		}
		checkTable(t, conn, `SELECT receipt_id, line_no, po_ref, warehouse, clarus_code, quantity, toString(received_at)
		    FROM receipt_lines FINAL ORDER BY receipt_id, line_no`, wantReceipts)

		// Each bad record is in the DLQ, with the reason it is not a fact.
		reasons := map[string]string{}
		for _, r := range consume(t, b, f.dlq, len(bads)) {
			var env schemas.DeadLetter
			if err := f.serde.Decode(context.Background(), r.Value, &env); err != nil {
				t.Fatalf("DLQ record is not a DeadLetter envelope: %v", err)
			}
			reasons[fmt.Sprintf("%s@%d", env.OriginalTopic, env.OriginalOffset)] = env.Reason
		}
		for _, x := range bads {
			at := fmt.Sprintf("%s@%d", x.rec.Topic, x.rec.Offset)
			if got, ok := reasons[at]; !ok || !strings.Contains(got, x.reason) {
				t.Errorf("DLQ record of %s: reason %q (found %v), want ~%q", at, got, ok, x.reason)
			}
		}
	})
}
