package ledger

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/deadletter"
	"github.com/lockstep-dev/lockstep/schemas"
)

func str(s string) *string { return &s }
func i64(v int64) *int64   { return &v }

func validEvent() *schemas.DriftEvent {
	at := time.Date(2026, 3, 14, 9, 26, 53, 999_000_000, time.UTC)
	v := schemas.NewDecimal(-1234, 5678)
	return &schemas.DriftEvent{
		Meta:          schemas.Meta{EventID: "ev-1", Source: schemas.SourceLockstep, OccurredAt: at, IngestedAt: at.Add(time.Second)},
		DiscrepancyID: "disc-1", Kind: schemas.DriftStockParity, Owner: schemas.OwnerFinance, Status: schemas.DriftOpen,
		SKU: str("SKU-1"), Warehouse: str("WH1"), ShipmentID: str("SH-1"),
		ExpectedQty: i64(10), ActualQty: nil, DeltaQty: i64(-3), ValueDelta: &v, Currency: str("EUR"),
		Detail: "prima 10, clarus 7",
	}
}

func TestToRow(t *testing.T) {
	rec := &kgo.Record{Topic: "p.lockstep.drift", Partition: 2, Offset: 41}
	row, err := toRow(validEvent(), rec)
	if err != nil {
		t.Fatal(err)
	}
	if row.EventID != "ev-1" || row.DiscrepancyID != "disc-1" || row.Kind != "stock_parity" || row.Owner != "finance" ||
		row.Status != "open" || row.SKU != "SKU-1" || row.Warehouse != "WH1" || row.OrderRef != "" || row.PORef != "" || row.ShipmentID != "SH-1" ||
		row.Currency != "EUR" || row.Detail != "prima 10, clarus 7" {
		t.Errorf("row = %+v", row)
	}
	if *row.ExpectedQty != 10 || row.ActualQty != nil || *row.DeltaQty != -3 {
		t.Errorf("quantities %v %v %v", row.ExpectedQty, row.ActualQty, row.DeltaQty)
	}
	if !row.ValueDelta.Equal(decimal.RequireFromString("-1234.5678")) {
		t.Errorf("value %s", row.ValueDelta)
	}
	if want := time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC); !row.OccurredAt.Equal(want) || !row.IngestedAt.Equal(want.Add(time.Second)) {
		t.Errorf("times %v %v", row.OccurredAt, row.IngestedAt)
	}
	if row.KafkaTopic != rec.Topic || row.KafkaPartition != 2 || row.KafkaOffset != 41 {
		t.Errorf("coordinates %s/%d@%d", row.KafkaTopic, row.KafkaPartition, row.KafkaOffset)
	}

	for name, mutate := range map[string]func(*schemas.DriftEvent){
		"event_id":       func(e *schemas.DriftEvent) { e.EventID = "" },
		"discrepancy_id": func(e *schemas.DriftEvent) { e.DiscrepancyID = "" },
		"kind":           func(e *schemas.DriftEvent) { e.Kind = "" },
		"owner":          func(e *schemas.DriftEvent) { e.Owner = "" },
		"status":         func(e *schemas.DriftEvent) { e.Status = "" },
		"occurred_at":    func(e *schemas.DriftEvent) { e.OccurredAt = time.Time{} },
		"ingested_at":    func(e *schemas.DriftEvent) { e.IngestedAt = time.Unix(1<<32, 0) },
		"value_delta":    func(e *schemas.DriftEvent) { v := schemas.Decimal(1e18); e.ValueDelta = &v },
	} {
		ev := validEvent()
		mutate(ev)
		_, err := toRow(ev, rec)
		if !errors.Is(err, ErrInvalid) || !permanent(err) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v, want ErrInvalid naming the field", name, err)
		}
	}

	// The edges of DateTime are accepted.
	ev := validEvent()
	ev.OccurredAt, ev.IngestedAt = time.Unix(0, 0), time.Unix(1<<32-1, 0)
	if _, err := toRow(ev, rec); err != nil {
		t.Errorf("DateTime edges: %v", err)
	}
}

// The ledger's DLQ records are package deadletter's: stage "ledger", the
// DLQ headers after the original ones, the Avro envelope as the value.
func TestDeadLetterRecord(t *testing.T) {
	serde := schemas.NewSerde(schemas.NewMemRegistry())
	s := &Sink{dlq: "lockstep.dlq", serde: serde, log: slog.New(slog.DiscardHandler)}
	rec := &kgo.Record{Topic: "lockstep.drift", Partition: 3, Offset: 99, Key: []byte("k"), Value: []byte{0, 1, 2},
		Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("t")}}}
	out := s.deadLetterRecord(context.Background(), rec, "bad magic")
	if out.Topic != "lockstep.dlq" || string(out.Key) != "k" {
		t.Fatalf("out = %+v", out)
	}
	want := []string{"trace=t", deadletter.HeaderReason + "=bad magic", deadletter.HeaderStage + "=ledger",
		deadletter.HeaderTopic + "=lockstep.drift", deadletter.HeaderPartition + "=3", deadletter.HeaderOffset + "=99"}
	for i, h := range out.Headers {
		if got := h.Key + "=" + string(h.Value); i >= len(want) || got != want[i] {
			t.Errorf("header %d = %s", i, got)
		}
	}
	var env schemas.DeadLetter
	if err := serde.Decode(context.Background(), out.Value, &env); err != nil {
		t.Fatalf("value is not a DeadLetter envelope: %v", err)
	}
	if env.Stage != Stage || env.Reason != "bad magic" || env.OriginalTopic != "lockstep.drift" || env.OriginalPartition != 3 ||
		env.OriginalOffset != 99 || string(env.OriginalValue) != "\x00\x01\x02" || env.Attempts != 1 {
		t.Fatalf("envelope = %+v", env)
	}
}

func TestBackoff(t *testing.T) {
	s := &Sink{cfg: Config{RetryMin: 100 * time.Millisecond, RetryMax: time.Second}.withDefaults(), log: slog.New(slog.DiscardHandler)}
	r := s.retrier("x")
	for i, want := range []time.Duration{100, 100, 200, 400, 800, 1000, 1000} {
		want *= time.Millisecond
		if d := r.delay(); d < want*8/10 || d > want*12/10 {
			t.Errorf("after %d failures: delay %s, want %s +-20%%", i, d, want)
		}
		r.failed(errors.New("down"), "down")
	}
}

func TestNew(t *testing.T) {
	serde := schemas.NewSerde(schemas.NewMemRegistry())
	if _, err := New(Config{}, nil, serde); err == nil {
		t.Error("New without a connection: want error")
	}
	if _, err := New(Config{RetryMin: time.Minute, RetryMax: time.Second}, fakeConn{}, serde); err == nil {
		t.Error("RetryMin above RetryMax: want error")
	}
	reg := prometheus.NewRegistry()
	if _, err := New(Config{Registerer: reg}, fakeConn{}, serde); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Registerer: reg}, fakeConn{}, serde); err == nil {
		t.Error("second sink on one registry: want an error, not a panic")
	}
}

// FuzzDecodeRecord feeds outside bytes to the decoder: it must not panic,
// a row it accepts must be insertable, and a record it refuses must be
// refused for good (the DLQ), never retried forever.
func FuzzDecodeRecord(f *testing.F) {
	serde := schemas.NewSerde(schemas.NewMemRegistry())
	valid, err := serde.Encode(context.Background(), validEvent())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add([]byte{})
	f.Add([]byte("not avro"))
	f.Add(append([]byte{0, 0, 0, 0, 9}, valid[5:]...))
	f.Add(valid[:len(valid)-3])
	f.Fuzz(func(t *testing.T, b []byte) {
		rows, err := decodeDrift(context.Background(), serde, &kgo.Record{Topic: "lockstep.drift", Value: b})
		if err != nil {
			if !permanent(err) {
				t.Fatalf("error not permanent, the record would block its partition: %v", err)
			}
			return
		}
		if len(rows) != 1 {
			t.Fatalf("%d rows from one drift record", len(rows))
		}
		if row := rows[0]; row.EventID == "" || row.OccurredAt.Before(minDateTime) || row.OccurredAt.After(maxDateTime) {
			t.Fatalf("accepted a row the ledger cannot hold: %+v", row)
		}
	})
}

// fakeConn stands in for ClickHouse where nothing is called.
type fakeConn struct{ driver.Conn }
