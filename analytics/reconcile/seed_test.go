package reconcile_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"

	"github.com/lockstep-dev/lockstep/analytics"
)

// The day most tests reconcile, and times on it.
var day = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

func at(hhmm string) time.Time { return atDay(day, hhmm) }

func atDay(d time.Time, hhmm string) time.Time {
	t, err := time.Parse("15:04", hhmm)
	if err != nil {
		panic(err)
	}
	return d.Add(time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute)
}

// seeder writes facts as the ledger sink would, each event at the next
// offset.
type seeder struct {
	t      *testing.T
	conn   driver.Conn
	offset int64
}

// lines parses "CODE:QTY" pairs.
func lines(specs ...string) [][2]string {
	out := make([][2]string, len(specs))
	for i, s := range specs {
		code, qty, ok := strings.Cut(s, ":")
		if !ok {
			panic(s)
		}
		out[i] = [2]string{code, qty}
	}
	return out
}

func qty(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		panic(err)
	}
	return n
}

// shipment inserts a shipment event (status confirmed unless the id of a
// cancellation is asked for with status) and returns its rows, so that a
// test can insert them again as a copy.
func (s *seeder) shipment(id, order, wh, status string, dispatched time.Time, specs ...string) []analytics.ShipmentLine {
	s.t.Helper()
	s.offset++
	base := analytics.ShipmentLine{
		ShipmentID: id, EventID: "clarus:shipment:" + id + ":" + status, OrderRef: order, GoodsOutID: "GO-" + order,
		Warehouse: wh, Status: status, DispatchedAt: dispatched, IngestedAt: dispatched.Add(time.Second),
		KafkaTopic: "clarus.shipments", KafkaOffset: s.offset,
	}
	var rows []analytics.ShipmentLine
	for i, l := range lines(specs...) {
		r := base
		r.LineNo, r.ClarusCode, r.Quantity, r.Picked = uint32(i+1), l[0], qty(l[1]), qty(l[1])
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		rows = append(rows, base)
	}
	s.insertShipments(rows)
	return rows
}

func (s *seeder) insertShipments(rows []analytics.ShipmentLine) {
	s.t.Helper()
	if err := analytics.InsertShipmentLines(context.Background(), s.conn, rows); err != nil {
		s.t.Fatal(err)
	}
}

// note inserts a created despatch note event from source ("prima" for the
// Prima source, "lockstep" for the sink's acknowledgement).
func (s *seeder) note(id, ref, order, source string, occurred time.Time, specs ...string) {
	s.t.Helper()
	s.offset++
	base := analytics.DespatchNoteLine{
		Reference: ref, EventID: fmt.Sprintf("%s:despatch-note:%s", source, id), NoteID: id, OrderRef: order,
		Status: "created", Source: source, OccurredAt: occurred, IngestedAt: occurred.Add(time.Second),
		KafkaTopic: "prima.despatch-notes", KafkaOffset: s.offset,
	}
	var rows []analytics.DespatchNoteLine
	for i, l := range lines(specs...) {
		r := base
		r.LineNo, r.SKU, r.Quantity = uint32(i+1), l[0], qty(l[1])
		rows = append(rows, r)
	}
	s.insertNotes(rows)
}

// failedPost inserts a failed despatch post for shipment ref.
func (s *seeder) failedPost(ref, order string, occurred time.Time) {
	s.t.Helper()
	s.offset++
	s.insertNotes([]analytics.DespatchNoteLine{{
		Reference: ref, EventID: "lockstep:despatch-ack:" + ref + ":failed", OrderRef: order, Status: "failed",
		Reason: "customer on stop", Source: "lockstep", OccurredAt: occurred, IngestedAt: occurred,
		KafkaTopic: "prima.despatch-notes", KafkaOffset: s.offset,
	}})
}

func (s *seeder) insertNotes(rows []analytics.DespatchNoteLine) {
	s.t.Helper()
	if err := analytics.InsertDespatchNoteLines(context.Background(), s.conn, rows); err != nil {
		s.t.Fatal(err)
	}
}

// item inserts a version of a Prima stock item; code "" is unmapped.
func (s *seeder) item(sku, code, cost, currency string, active bool, version time.Time) {
	s.t.Helper()
	s.insertItem(analytics.Item{SKU: sku, ClarusCode: code, UnitCost: decimal.RequireFromString(cost), Currency: currency,
		Active: active, StockItem: true}, version)
}

// nonStockItem inserts a Prima item Clarus never ships (shipping, a fee).
func (s *seeder) nonStockItem(sku, cost string, version time.Time) {
	s.t.Helper()
	s.insertItem(analytics.Item{SKU: sku, UnitCost: decimal.RequireFromString(cost), Currency: "EUR", Active: true}, version)
}

func (s *seeder) insertItem(it analytics.Item, version time.Time) {
	s.t.Helper()
	s.offset++
	it.EventID, it.Version = "prima:item:"+it.SKU+":"+version.Format(time.RFC3339), uint64(version.UnixMilli())
	it.OccurredAt, it.IngestedAt, it.KafkaTopic, it.KafkaOffset = version, version, "prima.items", s.offset
	if err := analytics.InsertItems(context.Background(), s.conn, []analytics.Item{it}); err != nil {
		s.t.Fatal(err)
	}
}

// drift inserts a fulfilment drift event.
func (s *seeder) drift(disc, kind, status, shipment, order string, occurred time.Time) {
	s.t.Helper()
	s.offset++
	if err := analytics.InsertDriftEvents(context.Background(), s.conn, []analytics.DriftEvent{{
		EventID: fmt.Sprintf("%s:%s:%d", disc, status, s.offset), DiscrepancyID: disc, Kind: kind, Owner: "finance",
		Status: status, ShipmentID: shipment, OrderRef: order, Detail: kind, OccurredAt: occurred, IngestedAt: occurred,
		KafkaTopic: "lockstep.drift", KafkaOffset: s.offset,
	}}); err != nil {
		s.t.Fatal(err)
	}
}

// items is the item master most tests use: PR-B has an older version,
// inserted last, that must not win; PR-X is a Prima item Clarus never
// ships; SHIP-STD is the one non-stock item, shipping; GBP is a second
// currency.
func (s *seeder) items() {
	v1, v2 := day.AddDate(0, -1, 0), day.AddDate(0, 0, -1)
	s.item("PR-A", "CL-A", "2.5", "EUR", true, v2)
	s.item("PR-B", "CL-B", "10", "EUR", true, v2)
	s.item("PR-B", "CL-B", "9", "EUR", true, v1)
	s.item("PR-C", "CL-C", "1.2345", "EUR", true, v2)
	s.item("PR-G", "CL-G", "3", "GBP", true, v2)
	s.item("PR-X", "", "99", "EUR", true, v2)
	s.nonStockItem("SHIP-STD", "4.95", v2)
}
