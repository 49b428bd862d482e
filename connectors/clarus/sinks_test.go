package clarus_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/clarus"
	"github.com/lockstep-dev/lockstep/connectors/clarus/clarussim"
	"github.com/lockstep-dev/lockstep/connectors/deadletter"
	"github.com/lockstep-dev/lockstep/schemas"
)

// What holds for every command sink, the goods-out order sink and the
// goods-in receipt sink alike: the shared loop (sinkloop.go,
// sinkwrite.go) is tested through both.

// ackView is what these tests read of an ack of either sink.
type ackView struct {
	ref, action, status string
	id, reason          *string
}

// sinkUnderTest drives one sink on its sinkEnv.
type sinkUnderTest struct {
	env                    *sinkEnv
	kind                   string // the metrics' name: order, receipt
	stage, cmdTopic        string
	start                  func() (stop func())
	create, cancel         func(ref string)
	acks                   func(n int) []ackView    // waits until n acks are committed
	made                   func(ref string) []int64 // the records that stand in Clarus with reference ref
	construct              func(cfg clarus.Config, api *clarus.Client, serde *schemas.Serde) error
	createdSt, cancelledSt string
}

// sinksUnderTest are the sinks, each made for a test.
var sinksUnderTest = map[string]func(t *testing.T) sinkUnderTest{
	"order sink": func(t *testing.T) sinkUnderTest {
		e := newOrderEnv(t, "A")
		return sinkUnderTest{env: e.sinkEnv, kind: "order", stage: "clarus-order-sink", cmdTopic: schemas.TopicCmdClarusOrders, start: e.start,
			create: func(ref string) { e.send(create(ref, 1, line("A", 2))) },
			cancel: func(ref string) { e.send(cancel(ref, 2)) },
			acks: func(n int) (out []ackView) {
				for _, a := range e.waitAcks(n) {
					out = append(out, ackView{a.OrderRef, string(a.Action), string(a.Status), a.ClarusID, a.Reason})
				}
				return out
			},
			made: func(ref string) (ids []int64) {
				for _, o := range e.orders(ref) {
					if o.Status != "CANCELLED" {
						ids = append(ids, o.ID)
					}
				}
				return ids
			},
			construct: func(cfg clarus.Config, api *clarus.Client, serde *schemas.Serde) error {
				_, err := clarus.NewOrderSink(cfg, api, serde, clarus.Options{})
				return err
			},
			createdSt: string(schemas.OrderCreated), cancelledSt: string(schemas.OrderCancelled)}
	},
	"receipt sink": func(t *testing.T) sinkUnderTest {
		e := newReceiptEnv(t, "A")
		return sinkUnderTest{env: e.sinkEnv, kind: "receipt", stage: "clarus-receipt-sink", cmdTopic: schemas.TopicCmdClarusReceipts, start: e.start,
			create: func(ref string) { e.send(poCommand(ref, 1, poCreate, line("A", 2))) },
			cancel: func(ref string) { e.send(poCommand(ref, 2, poCancel)) },
			acks: func(n int) (out []ackView) {
				for _, a := range e.waitAcks(n) {
					out = append(out, ackView{a.PORef, string(a.Action), string(a.Status), a.ClarusID, a.Reason})
				}
				return out
			},
			made: func(ref string) (ids []int64) {
				for _, g := range e.receipts(ref) {
					if g.Status != "cancelled" {
						ids = append(ids, g.ID)
					}
				}
				return ids
			},
			construct: func(cfg clarus.Config, api *clarus.Client, serde *schemas.Serde) error {
				_, err := clarus.NewReceiptSink(cfg, api, serde, clarus.Options{})
				return err
			},
			createdSt: string(schemas.ReceiptCreated), cancelledSt: string(schemas.ReceiptCancelled)}
	},
}

// eachSink runs test as a subtest for every sink.
func eachSink(t *testing.T, test func(t *testing.T, s sinkUnderTest)) {
	for name, newSink := range sinksUnderTest {
		t.Run(name, func(t *testing.T) { test(t, newSink(t)) })
	}
}

func ackFor(t *testing.T, acks []ackView, ref, action string) ackView {
	t.Helper()
	return onlyOne(t, acks, action+" ack of "+ref, func(a ackView) bool { return a.ref == ref && a.action == action })
}

// Clarus made the record and the answer was lost: the sink looks the
// reference up before creating again, finds it, and acks it. One record,
// never two.
func TestSinksLookUpAfterALostAnswer(t *testing.T) {
	eachSink(t, func(t *testing.T, s sinkUnderTest) {
		s.env.dropCreates.Store(1)
		s.create("R-1")
		s.start()
		a := ackFor(t, s.acks(1), "R-1", "create")
		made := s.made("R-1")
		if len(made) != 1 || a.status != s.createdSt || a.id == nil || *a.id != itoa(made[0]) ||
			a.reason == nil || !strings.Contains(*a.reason, "not created again") {
			t.Fatalf("ack %+v, records %v", a, made)
		}
		if n := s.env.log.count(s.env.createPath, 0); n != 1 {
			t.Fatalf("%d creations sent", n)
		}
		if s.env.metric("lockstep_clarus_"+s.kind+"_requests_total", "create", "failed") != 1 {
			t.Fatal("the lost answer was not counted as a failed call")
		}
	})
}

// Without the look-up the same lost answer makes a second record: Clarus
// takes a duplicate reference, and the look-up is all that prevents it.
func TestSinksWithoutLookupDuplicate(t *testing.T) {
	eachSink(t, func(t *testing.T, s sinkUnderTest) {
		s.env.blindLookups.Store(true)
		s.env.dropCreates.Store(1)
		s.create("R-1")
		s.start()
		s.acks(1)
		if n := len(s.made("R-1")); n != 2 {
			t.Fatalf("%d records: the blinded look-up should have let a duplicate through", n)
		}
	})
}

// Under every fault the simulator injects at once (server errors,
// throttling, answers lost after the write, answers cut short), on every
// call (token, look-ups, writes), each command still makes exactly one
// record, or cancels it, and is acked once.
func TestSinksUnderFaults(t *testing.T) {
	eachSink(t, func(t *testing.T, s sinkUnderTest) {
		s.env.sim.SetFaults(clarussim.Faults{Seed: 7, ErrorRate: 0.1, UnavailableRate: 0.1, ThrottleRate: 0.1,
			TimeoutAfterWriteRate: 0.2, MalformedRate: 0.1})
		for i := range 12 {
			s.create(fmt.Sprintf("R-%d", i))
		}
		s.cancel("R-3")
		s.cancel("R-4")
		s.start()
		acks := s.acks(14)
		for i := range 12 {
			ref := fmt.Sprintf("R-%d", i)
			a, made := ackFor(t, acks, ref, "create"), s.made(ref)
			if i == 3 || i == 4 {
				if c := ackFor(t, acks, ref, "cancel"); c.status != s.cancelledSt || len(made) != 0 {
					t.Errorf("%s: cancel %+v, records %v", ref, c, made)
				}
				continue
			}
			if a.status != s.createdSt || len(made) != 1 || *a.id != itoa(made[0]) {
				t.Errorf("%s: %+v, records %v", ref, a, made)
			}
		}
		// 12 records were created; fewer answers reached the sink.
		if n := s.env.log.count(s.env.createPath, 201); n >= 12 {
			t.Fatalf("%d creations answered: none lost its answer, the test proves nothing", n)
		}
	})
}

// A command that cannot be decoded goes to the DLQ, in the transaction
// that acks the commands around it.
func TestSinksDeadLetters(t *testing.T) {
	eachSink(t, func(t *testing.T, s sinkUnderTest) {
		s.create("R-1")
		s.env.produce(&kgo.Record{Topic: s.cmdTopic, Key: []byte("R-1"), Value: []byte("not avro")})
		s.create("R-2")
		s.start()
		acks := s.acks(2)
		if ackFor(t, acks, "R-1", "create").status != s.createdSt || ackFor(t, acks, "R-2", "create").status != s.createdSt {
			t.Fatalf("acks %+v", acks)
		}
		dlq := committed(t, s.env.kopts, schemas.TopicDLQ)
		if len(dlq) != 1 || string(dlq[0].Key) != "R-1" {
			t.Fatalf("%d DLQ records", len(dlq))
		}
		headers := map[string]string{}
		for _, h := range dlq[0].Headers {
			headers[h.Key] = string(h.Value)
		}
		if headers[deadletter.HeaderStage] != s.stage || headers[deadletter.HeaderTopic] != s.cmdTopic ||
			!strings.Contains(headers[deadletter.HeaderReason], "cannot decode") || headers[deadletter.HeaderOffset] != "1" {
			t.Fatalf("DLQ headers %v", headers)
		}
		if s.env.metric("lockstep_clarus_"+s.kind+"_dead_letters_total") != 1 {
			t.Fatal("dead letter not counted")
		}
	})
}

// A sink needs the stock owner, a client and a serde.
func TestNewSinksValidate(t *testing.T) {
	eachSink(t, func(t *testing.T, s sinkUnderTest) {
		cfg := testConfig("http://127.0.0.1:1")
		api := clarus.NewClient(cfg, clarus.Options{})
		serde := schemas.NewSerde(schemas.NewMemRegistry())
		if err := s.construct(cfg, api, serde); err == nil || !strings.Contains(err.Error(), "LOCKSTEP_CLARUS_ACCOUNT_ID") {
			t.Fatalf("no account: %v", err)
		}
		cfg.AccountID = "1"
		if err := s.construct(cfg, nil, serde); err == nil {
			t.Fatal("no client accepted")
		}
		if err := s.construct(cfg, api, nil); err == nil {
			t.Fatal("no serde accepted")
		}
		if err := s.construct(cfg, api, serde); err != nil {
			t.Fatal(err)
		}
	})
}
