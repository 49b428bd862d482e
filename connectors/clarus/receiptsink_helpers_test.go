package clarus_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/clarus"
	"github.com/lockstep-dev/lockstep/connectors/clarus/clarussim"
	"github.com/lockstep-dev/lockstep/schemas"
)

// receiptEnv is the goods-in receipt sink's sinkEnv. The simulator serves
// what clarus.graphql assumes: the sink reads a receipt's lines, which the
// documentation does not show.
type receiptEnv struct{ *sinkEnv }

// newReceiptEnv has Clarus products for codes, each with a single unit of
// priority 0.
func newReceiptEnv(t *testing.T, codes ...string) *receiptEnv {
	t.Helper()
	e := &receiptEnv{newSinkEnv(t, clarussim.Config{AllowAssumed: true}, schemas.TopicCmdClarusReceipts, schemas.TopicReceiptAcks,
		"/api/goods_in_receipts", "goods_in_receipts")}
	for _, c := range codes {
		e.define(clarussim.Product{Code: c})
	}
	return e
}

func (e *receiptEnv) define(p clarussim.Product) clarussim.Product {
	e.t.Helper()
	got, err := e.sim.DefineProduct(p)
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

var expectedAt = epoch.Add(7 * 24 * time.Hour)

func poCommand(ref string, version int64, action schemas.ClarusReceiptAction, lines ...schemas.ClarusLine) *schemas.ClarusReceiptCommand {
	at := expectedAt
	return &schemas.ClarusReceiptCommand{
		Meta:  schemas.Meta{EventID: fmt.Sprintf("inbound:%s:v%d:%s", ref, version, action), Source: schemas.SourceLockstep, OccurredAt: epoch, IngestedAt: epoch},
		PORef: ref, POVersion: version, Action: action, Warehouse: "WH1", SupplierRef: "SUP-1", ExpectedAt: &at, Lines: lines,
	}
}

func (e *receiptEnv) send(cmds ...*schemas.ClarusReceiptCommand) {
	e.t.Helper()
	for _, c := range cmds {
		e.sendCommand(schemas.TopicCmdClarusReceipts, c.PORef, c)
	}
}

// start runs a receipt sink until the test ends or stop is called.
func (e *receiptEnv) start() (stop func()) {
	e.t.Helper()
	api := clarus.NewClient(e.cfg, clarus.Options{Clock: e.clock})
	sink, err := clarus.NewReceiptSink(e.cfg, api, e.serde, e.options("test-receipts"), e.kopts...)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.run(sink.Run)
}

func receiptAckKey(a *schemas.ReceiptAck) string { return a.PORef }

// waitAcks waits until n acks are committed and returns them in order.
func (e *receiptEnv) waitAcks(n int) []schemas.ReceiptAck {
	e.t.Helper()
	return decodeAll(e.sinkEnv, e.waitRecords(schemas.TopicReceiptAcks, n), receiptAckKey)
}

// acks reads every committed ack.
func (e *receiptEnv) acks() []schemas.ReceiptAck {
	e.t.Helper()
	return decodeAll(e.sinkEnv, committed(e.t, e.kopts, schemas.TopicReceiptAcks), receiptAckKey)
}

// receiptAckOf returns the one ack of ref's action.
func receiptAckOf(t *testing.T, acks []schemas.ReceiptAck, ref string, action schemas.ClarusReceiptAction) schemas.ReceiptAck {
	t.Helper()
	return onlyOne(t, acks, fmt.Sprintf("%s ack of %s", action, ref), func(a schemas.ReceiptAck) bool { return a.PORef == ref && a.Action == action })
}

// receipts returns the simulator's goods-in receipts with reference ref.
func (e *receiptEnv) receipts(ref string) []clarussim.GoodsInReceipt {
	var out []clarussim.GoodsInReceipt
	for _, g := range e.sim.GoodsIn() {
		if g.Reference == ref {
			out = append(out, g)
		}
	}
	return out
}

// expected is what a receipt's lines expect, "code:qty" in line order.
func expected(g clarussim.GoodsInReceipt) []string {
	var out []string
	for _, l := range g.Lines {
		out = append(out, fmt.Sprintf("%s:%d", l.SKU, l.Expected))
	}
	return out
}
