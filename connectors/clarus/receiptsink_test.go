package clarus_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/clarus/clarussim"
	"github.com/lockstep-dev/lockstep/schemas"
)

const (
	poCreate = schemas.ClarusReceiptCreate
	poUpdate = schemas.ClarusReceiptUpdate
	poCancel = schemas.ClarusReceiptCancel
)

// A create becomes one pending pre-receipt whose reference is the PO ref,
// each line with its product's storage unit of priority 0, acked created
// with its Clarus id, once: a second sink on the same group acks only what
// is new.
func TestReceiptSinkCreates(t *testing.T) {
	e := newReceiptEnv(t, "A", "B")
	// C's units are listed by priority: the case of priority 0 first.
	c := e.define(clarussim.Product{Code: "C", StorageUnits: []clarussim.StorageUnit{{Priority: 1, TypeCode: "PAL"}, {Priority: 0, StockConfiguration: "case", TypeCode: "CASE"}}})
	e.send(poCommand("PO-1", 3, poCreate, line("A", 10), line("C", 6)), poCommand("PO-2", 1, poCreate, line("B", 4)))
	stop := e.start()
	acks := e.waitAcks(2)

	for _, ref := range []string{"PO-1", "PO-2"} {
		a, gs := receiptAckOf(t, acks, ref, poCreate), e.receipts(ref)
		if a.Status != schemas.ReceiptCreated || a.ClarusID == nil || a.Reason != nil || len(gs) != 1 || *a.ClarusID != itoa(gs[0].ID) {
			t.Fatalf("%s: ack %+v, receipts %+v", ref, a, gs)
		}
	}
	g := e.receipts("PO-1")[0]
	if g.Status != "pending" || !g.PreReceipt || g.Warehouse != "WH1" || g.String1 != "v3" || g.ExternalSystemReference1 != "PO-1" ||
		g.ExternalSystemReference2 != "SUP-1" || g.ExpectedArrival == nil || !g.ExpectedArrival.Equal(expectedAt) ||
		!slices.Equal(expected(g), []string{"A:10", "C:6"}) || g.Lines[1].StorageUnitID != c.StorageUnits[0].ID || g.Lines[0].AltLineNumber == "" {
		t.Fatalf("pre-receipt %+v (C's units %+v)", g, c.StorageUnits)
	}
	if a := receiptAckOf(t, acks, "PO-1", poCreate); a.POVersion != 3 || a.EventID != "ack:inbound:PO-1:v3:create" || a.Source != schemas.SourceClarus {
		t.Fatalf("ack %+v", a)
	}
	if e.metric("lockstep_clarus_receipt_acks_total", "create", "created") != 2 || e.metric("lockstep_clarus_receipt_requests_total", "create", "ok") != 2 {
		t.Fatal("metrics disagree")
	}
	stop()

	e.send(poCommand("PO-3", 1, poCreate, line("A", 1)))
	e.start()
	e.waitAcks(3)
	stop()
	if acks := e.acks(); len(acks) != 3 || len(e.sim.GoodsIn()) != 3 {
		t.Fatalf("after a restart: %d acks, %d receipts", len(acks), len(e.sim.GoodsIn()))
	}
}

// What Clarus would not take is acked rejected with the reason, nothing
// made, nothing retried, and the commands after it go on: a product
// without a storage unit of priority 0 and an unknown code (found by the
// sink's look-ups, nothing sent), a non-stock product (Clarus refuses it,
// 422), a warehouse lockstep does not keep.
func TestReceiptSinkRejects(t *testing.T) {
	e := newReceiptEnv(t, "A")
	e.define(clarussim.Product{Code: "D", StorageUnits: []clarussim.StorageUnit{}})
	e.define(clarussim.Product{Code: "E", StorageUnits: []clarussim.StorageUnit{{Priority: 1}}})
	e.define(clarussim.Product{Code: "KIT", Type: clarussim.ProductBillOfMaterial})
	other := poCommand("PO-5", 1, poCreate, line("A", 1))
	other.Warehouse = "WH9"
	e.send(poCommand("PO-1", 1, poCreate, line("A", 1), line("D", 1), line("E", 2)), poCommand("PO-2", 1, poCreate, line("NOPE", 1)),
		poCommand("PO-3", 1, poCreate, line("A", 1), line("KIT", 1)), poCommand("PO 4 ", 1, poCreate, line("A", 1)), other,
		poCommand("PO-6", 1, poCreate, line("A", 1)))
	e.start()
	acks := e.waitAcks(6)
	for ref, want := range map[string]string{
		"PO-1":  "no storage unit of priority 0 (which a receipt line takes) for D, E",
		"PO-2":  "no Clarus product has the code NOPE",
		"PO-3":  "Clarus refused the pre-receipt: HTTP 422: lines_changes[1].attributes.product_id is not a stock product",
		"PO 4 ": "starts or ends with a space",
		"PO-5":  `warehouse "WH9" is not one of LOCKSTEP_CLARUS_WAREHOUSES`,
	} {
		a := receiptAckOf(t, acks, ref, poCreate)
		if a.Status != schemas.ReceiptRejected || a.ClarusID != nil || a.Reason == nil || !strings.Contains(*a.Reason, want) || len(e.receipts(ref)) != 0 {
			t.Errorf("%s: %+v (reason %q), want %q", ref, a, deref(a.Reason), want)
		}
	}
	if a := receiptAckOf(t, acks, "PO-6", poCreate); a.Status != schemas.ReceiptCreated {
		t.Fatalf("the command after the rejections: %+v", a)
	}
	if n := e.log.count("/api/goods_in_receipts", 0); n != 2 { // the refused KIT and PO-6
		t.Fatalf("%d creations sent", n)
	}
	if e.metric("lockstep_clarus_receipt_acks_total", "create", "rejected") != 5 || e.metric("lockstep_clarus_receipt_requests_total", "create", "refused") != 1 {
		t.Fatal("metrics disagree")
	}
}

// An update makes the pre-receipt what the new version says, changing
// only what differs; sent again (a replay) it changes nothing; an update
// whose answer was lost is found applied on the next read, not sent twice;
// once receiving started, and for a PO with no pre-receipt, it is
// rejected.
func TestReceiptSinkUpdates(t *testing.T) {
	e := newReceiptEnv(t, "A", "B", "C")
	e.send(poCommand("PO-1", 1, poCreate, line("A", 10), line("B", 5)), poCommand("PO-2", 1, poCreate, line("A", 1)))
	e.start()
	first := e.waitAcks(2)
	v2 := poCommand("PO-1", 2, poUpdate, line("A", 7), line("C", 3))
	moved := expectedAt.Add(48 * time.Hour)
	v2.ExpectedAt = &moved
	e.send(v2)
	a := receiptAckOf(t, e.waitAcks(3)[2:], "PO-1", poUpdate)
	gs := e.receipts("PO-1")
	if a.Status != schemas.ReceiptUpdated || len(gs) != 1 || *a.ClarusID != *receiptAckOf(t, first, "PO-1", poCreate).ClarusID ||
		!slices.Equal(expected(gs[0]), []string{"A:7", "C:3"}) || !gs[0].ExpectedArrival.Equal(moved) || gs[0].String1 != "v2" || a.Reason != nil {
		t.Fatalf("ack %+v, receipts %+v", a, gs)
	}
	patches := len(e.log.all("/api/goods_in_receipts/" + itoa(gs[0].ID)))

	// A replay of the same update changes nothing.
	e.send(v2)
	if a := e.waitAcks(4)[3]; a.Status != schemas.ReceiptUpdated || a.Reason == nil || !strings.Contains(*a.Reason, "already holds") {
		t.Fatalf("replayed update %+v", a)
	}
	// An update whose answer is lost is read back, not sent twice: the
	// ADD of B would make a second line.
	e.dropUpdates.Store(1)
	e.send(poCommand("PO-1", 3, poUpdate, line("A", 7), line("C", 3), line("B", 2)))
	if a := e.waitAcks(5)[4]; a.Status != schemas.ReceiptUpdated {
		t.Fatalf("update after a lost answer %+v", a)
	}
	if got := expected(e.receipts("PO-1")[0]); !slices.Equal(got, []string{"A:7", "C:3", "B:2"}) {
		t.Fatalf("lines after a lost answer %v", got)
	}
	if n := len(e.log.all("/api/goods_in_receipts/" + itoa(gs[0].ID))); n != patches+1 {
		t.Fatalf("%d updates sent for one change", n-patches)
	}

	// Receiving started: the warehouse's work stands.
	e.apply(clarussim.Event{Type: "receive", Reference: "PO-2"})
	e.send(poCommand("PO-2", 2, poUpdate, line("A", 5)), poCommand("PO-9", 2, poUpdate, line("A", 5)))
	acks := e.waitAcks(7)[5:]
	if a := receiptAckOf(t, acks, "PO-2", poUpdate); a.Status != schemas.ReceiptRejected || !strings.Contains(*a.Reason, "receiving started") {
		t.Fatalf("update while received %+v", a)
	}
	if a := receiptAckOf(t, acks, "PO-9", poUpdate); a.Status != schemas.ReceiptRejected || !strings.Contains(*a.Reason, "nothing to update") {
		t.Fatalf("update of no pre-receipt %+v", a)
	}
}

// A cancel cancels the pending pre-receipt (it stays listed, cancelled);
// a replay finds it cancelled; a PO with none is nothing to cancel; one
// being received is refused; a create after a cancel makes a new one.
func TestReceiptSinkCancels(t *testing.T) {
	e := newReceiptEnv(t, "A")
	e.send(poCommand("PO-1", 1, poCreate, line("A", 1)), poCommand("PO-2", 1, poCreate, line("A", 1)))
	e.start()
	e.waitAcks(2)
	e.apply(clarussim.Event{Type: "receive", Reference: "PO-2"})
	e.send(poCommand("PO-1", 2, poCancel), poCommand("PO-1", 2, poCancel), poCommand("PO-2", 2, poCancel), poCommand("PO-7", 1, poCancel),
		poCommand("PO-1", 3, poCreate, line("A", 4)))
	acks := e.waitAcks(7)[2:]
	gs := e.receipts("PO-1")
	if len(gs) != 2 || gs[0].Status != "cancelled" || gs[1].Status != "pending" || !slices.Equal(expected(gs[1]), []string{"A:4"}) {
		t.Fatalf("PO-1 in Clarus %+v", gs)
	}
	c1, c2 := acks[0], acks[1]
	if c1.Status != schemas.ReceiptCancelled || *c1.ClarusID != itoa(gs[0].ID) || c1.Reason != nil ||
		c2.Status != schemas.ReceiptCancelled || *c2.ClarusID != itoa(gs[0].ID) || !strings.Contains(*c2.Reason, "already cancelled") {
		t.Fatalf("cancels %+v, %+v", c1, c2)
	}
	if a := receiptAckOf(t, acks, "PO-2", poCancel); a.Status != schemas.ReceiptRejected || !strings.Contains(*a.Reason, "receiving started: pre-receipt") {
		t.Fatalf("cancel of a received PO %+v", a)
	}
	if a := receiptAckOf(t, acks, "PO-7", poCancel); a.Status != schemas.ReceiptCancelled || a.ClarusID != nil || !strings.Contains(*a.Reason, "nothing to cancel") {
		t.Fatalf("cancel of no pre-receipt %+v", a)
	}
	if a := receiptAckOf(t, acks, "PO-1", poCreate); a.Status != schemas.ReceiptCreated || *a.ClarusID != itoa(gs[1].ID) {
		t.Fatalf("create after the cancel %+v", a)
	}
}

// A command's ack and its offset commit in one transaction: a run cut
// short after Clarus made the pre-receipt and before the commit leaves
// neither the ack nor the offset, so the next run handles the command
// again, finds the pre-receipt and acks it once; the command acked before
// is not handled again.
func TestReceiptSinkAcksAndOffsetsCommitTogether(t *testing.T) {
	e := newReceiptEnv(t, "A")
	e.send(poCommand("PO-0", 1, poCreate, line("A", 1)))
	stop := e.start()
	e.waitAcks(1)
	cut := func() { (*e.cancel.Load())() } // the run ends before the answer reaches it
	e.onCreate.Store(&cut)
	e.send(poCommand("PO-1", 1, poCreate, line("A", 2)))
	for len(e.receipts("PO-1")) == 0 {
		e.nextCall()
	}
	stop()
	e.onCreate.Store(nil)
	if acks := e.acks(); len(acks) != 1 || acks[0].PORef != "PO-0" {
		t.Fatalf("acks after the cut run %+v", acks)
	}
	lookups := e.log.count("/graphql", 0)
	// kfake holds the first fetch of the command the cut run had fetched
	// for the whole wait: a shorter one keeps the test quick.
	e.kopts = append(e.kopts, kgo.FetchMaxWait(300*time.Millisecond))
	e.start()
	acks := e.waitAcks(2)
	stop()
	if a := receiptAckOf(t, acks, "PO-1", poCreate); a.Status != schemas.ReceiptCreated || *a.ClarusID != itoa(e.receipts("PO-1")[0].ID) ||
		!strings.Contains(*a.Reason, "not created again") {
		t.Fatalf("ack after the restart %+v", a)
	}
	if acks := e.acks(); len(acks) != 2 || len(e.receipts("PO-1")) != 1 || len(e.receipts("PO-0")) != 1 {
		t.Fatalf("%d acks, PO-1 %d and PO-0 %d pre-receipts", len(acks), len(e.receipts("PO-1")), len(e.receipts("PO-0")))
	}
	for _, c := range e.log.all("/graphql")[lookups:] {
		if strings.Contains(c.Body, `"PO-0"`) {
			t.Fatal("the command acked before the cut was handled again")
		}
	}
}
