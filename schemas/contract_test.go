package schemas

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/broker/brokertest"
	"github.com/lockstep-dev/lockstep/connectors/contracttest"
)

// confluentConsumer is a consumer as a Confluent user writes one: Confluent's
// Python client, its AvroDeserializer with the default settings (no reader
// schema, the topic subject name strategy, so it asks the registry for
// /schemas/ids/{id}?subject=<topic>-value), pointed at the registry's URL.
// It prints each decoded record as one JSON line after "RECORD ".
const confluentConsumer = `
import base64, datetime, decimal, json, sys, time, uuid
from confluent_kafka import Consumer, KafkaException, TopicPartition, OFFSET_BEGINNING
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

brokers, registry, topic, want = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

def plain(o):
    if isinstance(o, (datetime.datetime, datetime.date, datetime.time)):
        return o.isoformat()
    if isinstance(o, decimal.Decimal):
        return str(o)
    if isinstance(o, (bytes, bytearray)):
        return base64.b64encode(o).decode('ascii')
    if isinstance(o, uuid.UUID):
        return str(o)
    raise TypeError('cannot encode %r' % (o,))

deserialize = AvroDeserializer(SchemaRegistryClient({'url': registry}))
consumer = Consumer({'bootstrap.servers': brokers, 'group.id': 'lockstep-contract-' + topic,
                     'enable.auto.commit': False, 'auto.offset.reset': 'earliest'})
consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
got, deadline = 0, time.monotonic() + 60
try:
    while got < want:
        if time.monotonic() > deadline:
            sys.exit('timed out after %d of %d records' % (got, want))
        msg = consumer.poll(1.0)
        if msg is None:
            continue
        if msg.error():
            raise KafkaException(msg.error())
        ctx = SerializationContext(msg.topic(), MessageField.VALUE, msg.headers())
        value = deserialize(msg.value(), ctx)
        print('RECORD ' + json.dumps({'key': msg.key().decode(), 'offset': msg.offset(), 'value': value},
                                     default=plain, sort_keys=True), flush=True)
        got += 1
finally:
    consumer.close()
`

// TestConfluentDeserializerContract produces one record of every event type
// to the real broker through the embedded registry, served over HTTP as
// `lockstep run` serves it, and has Confluent's own Python deserializer
// decode them: what a team consuming lockstep's topics would run.
func TestConfluentDeserializerContract(t *testing.T) {
	seeds := brokertest.RealKafka(t)
	contracttest.Python(t) // skip (or, under CI, fail) before touching the broker
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	reg, err := NewEmbeddedRegistry(ctx, kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	serde := NewSerde(reg)

	// A busy broker may take a while to host a new topic's partition: keep
	// retrying until the test's deadline rather than kgo's few retries.
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.UnknownTopicRetries(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)
	topic := fmt.Sprintf("contract%d.lockstep.events", time.Now().UnixNano()%1e12)
	if _, err := adm.CreateTopic(ctx, 1, -1, nil, topic); err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = adm.DeleteTopic(ctx, topic)
	})
	waitForLeader(ctx, t, adm, topic)

	// One record of every event type: the samples cover the catalog.
	events := samples()
	sent := map[string]Event{}
	for _, ev := range events {
		sent[ev.SchemaName()] = ev
	}
	for _, s := range Schemas() {
		if sent[s.Name] == nil {
			t.Fatalf("no sample of %s: the contract would not cover it", s.Name)
		}
	}
	for _, ev := range events {
		b, err := serde.Encode(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		rec := &kgo.Record{Topic: topic, Key: []byte(ev.SchemaName()), Value: b}
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatalf("produce %s: %v", ev.SchemaName(), err)
		}
	}

	out := contracttest.Run(t, confluentConsumer, strings.Join(seeds, ","), reg.URL(), topic, strconv.Itoa(len(events)))
	got := map[string]map[string]any{}
	for line := range strings.Lines(out) {
		js, ok := strings.CutPrefix(strings.TrimSpace(line), "RECORD ")
		if !ok {
			continue
		}
		var rec struct {
			Key   string
			Value map[string]any
		}
		dec := json.NewDecoder(strings.NewReader(js))
		dec.UseNumber()
		if err := dec.Decode(&rec); err != nil {
			t.Fatalf("script printed %q: %v", js, err)
		}
		got[rec.Key] = rec.Value
	}
	if len(got) != len(sent) {
		t.Fatalf("decoded %d event types of %d: %v\n%s", len(got), len(sent), slices.Sorted(maps.Keys(got)), out)
	}

	for name, ev := range sent {
		v, ok := got[name]
		if !ok {
			t.Errorf("%s: not decoded", name)
			continue
		}
		// The decoded record has every field of the schema, and nothing else.
		if want, have := schemaFields(t, catalogByName[name].text), slices.Sorted(maps.Keys(v)); !slices.Equal(want, have) {
			t.Errorf("%s: fields %q, want %q", name, have, want)
		}
		m := ev.EventMeta()
		checkValue(t, name, v, "event_id", m.EventID)
		checkValue(t, name, v, "source", string(m.Source))
		checkValue(t, name, v, "occurred_at", m.OccurredAt)
		checkValue(t, name, v, "ingested_at", m.IngestedAt)
	}
	// A few values of each kind the schemas use: signed longs, enums,
	// optional strings, decimals, bytes, nested records and arrays.
	for _, c := range []struct {
		event, path string
		want        any
	}{
		{"lockstep.v1.StockMovement", "quantity", int64(-3)},
		{"lockstep.v1.StockMovement", "kind", string(MovementAdjustment)},
		{"lockstep.v1.StockMovement", "reference", "ADJ-77"},
		{"lockstep.v1.SalesOrder", "lines.0.unit_price", MustParseDecimal("19.99")},
		{"lockstep.v1.SalesOrder", "lines.2.unit_price", MustParseDecimal("-5.0001")},
		{"lockstep.v1.SalesOrder", "lines.1.stock_item", false},
		{"lockstep.v1.SalesOrder", "delivery.line2", "Flat 3"},
		{"lockstep.v1.SalesOrder", "channel", "web"},
		{"lockstep.v1.PurchaseOrder", "expected_at", at(30)},
		{"lockstep.v1.PrimaStockLevel", "on_hand", int64(118)},
		{"lockstep.v1.OrderAck", "reason", "unknown product MUG-RED"},
		{"lockstep.v1.DriftEvent", "value_delta", MustParseDecimal("-8.2550")},
		{"lockstep.v1.DriftEvent", "delta_qty", int64(-2)},
		{"lockstep.v1.DeadLetter", "original_offset", int64(1 << 40)},
		{"lockstep.v1.DeadLetter", "original_value", []byte{0, 0, 0, 0, 9, 0xff}},
		{"lockstep.v1.DeadLetter", "original_headers.1.value", []byte{}},
		{"lockstep.v1.PrimaStockCommand", "lines.1.available", int64(0)},
	} {
		checkValue(t, c.event, got[c.event], c.path, c.want)
	}
}

// waitForLeader waits until the broker names a leader for partition 0 of
// topic, so that the producer and the Python consumer find it.
func waitForLeader(ctx context.Context, t *testing.T, adm *kadm.Client, topic string) {
	t.Helper()
	for {
		md, err := adm.ListTopics(ctx, topic)
		if err == nil {
			if p, ok := md[topic].Partitions[0]; ok && md[topic].Err == nil && p.Err == nil && p.Leader >= 0 {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s has no leader: %v (last error %v)", topic, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond): // polling the broker, not timing the test
		}
	}
}

// schemaFields lists the top-level field names of a record schema, sorted.
func schemaFields(t *testing.T, text string) []string {
	t.Helper()
	var s struct{ Fields []struct{ Name string } }
	if err := json.Unmarshal([]byte(text), &s); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range s.Fields {
		names = append(names, f.Name)
	}
	slices.Sort(names)
	return names
}

// checkValue compares the value at path (dot separated field names and
// array indexes) of a record decoded in Python and printed as JSON with
// want, a Go value of the type the field has in the event.
func checkValue(t *testing.T, event string, record map[string]any, path string, want any) {
	t.Helper()
	var v any = record
	for part := range strings.SplitSeq(path, ".") {
		switch n := v.(type) {
		case map[string]any:
			v = n[part]
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i >= len(n) {
				t.Errorf("%s.%s: no element %s in %v", event, path, part, n)
				return
			}
			v = n[i]
		default:
			t.Errorf("%s.%s: %v has no %s", event, path, v, part)
			return
		}
	}
	s, isString := v.(string)
	ok := false
	switch w := want.(type) {
	case string:
		ok = isString && s == w
	case bool:
		ok = v == w
	case int64:
		n, isNum := v.(json.Number)
		ok = isNum && n.String() == strconv.FormatInt(w, 10)
	case Decimal:
		d, err := ParseDecimal(s)
		ok = isString && err == nil && d == w
	case []byte:
		b, err := base64.StdEncoding.DecodeString(s)
		ok = isString && err == nil && bytes.Equal(b, w)
	case time.Time:
		tm, err := time.Parse(time.RFC3339Nano, s)
		ok = isString && err == nil && tm.Equal(w)
	default:
		t.Fatalf("checkValue: no comparison for %T", want)
	}
	if !ok {
		t.Errorf("%s.%s = %#v (%T), want %v", event, path, v, v, want)
	}
}
