package clarussim

import (
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/lockstep-dev/lockstep/connectors/simkit"
)

// Goods-in receipts: pre-receipts created over REST before the goods come
// (POST /api/goods_in_receipts, documented: goods-in:-receipts/
// create-a-goods-in-receipt and core-resources/goods-in-receipt), and what
// the warehouse receives, against a pre-receipt or without one. A
// duplicate reference is accepted, as nothing says Clarus refuses one:
// finding its own pre-receipt again is the client's business.
//
// Statuses. The documentation disagrees with itself: the REST receive page
// says PENDING -> RCV and its sample shows "received"; the GraphQL list
// page gives "draft, receiving, completed". The simulator says pending for
// a pre-receipt nothing was received against (the REST page's PENDING, in
// the GraphQL page's lower case: assumed), receiving once it was released
// for receiving (POST .../receive, documented), completed once received
// (documented), and cancelled (assumed: cancelling is not documented).
const (
	inPending   = "pending"
	inReceiving = "receiving"
	inCompleted = "completed"
	inCancelled = "cancelled"
)

// goodsIn is a goods-in receipt: a pre-receipt, or a receipt the
// warehouse made for goods that came without one.
type goodsIn struct {
	ID         int64
	Reference  string
	Warehouse  string
	Status     string
	History    []string
	PreReceipt bool // created through POST /api/goods_in_receipts
	// What the create and update requests set and the simulator keeps.
	SupplierID      int64
	Notes           string
	ExpectedArrival *time.Time
	ExternalRefs    [3]string
	Strings         [5]string
	Address         *Address
	Lines           []inLine
	CreatedAt       time.Time
	ReceivedAt      time.Time
}

type inLine struct {
	ID            int64
	SKU           string
	StorageUnitID int64 // 0 on a line the warehouse added
	AltLineNumber string
	Expected      int64
	Received      int64
	// Unplanned marks a line the warehouse added when receiving: a product
	// the pre-receipt did not expect, or a receipt without one.
	Unplanned bool
}

func (g *goodsIn) setStatus(status string) {
	g.Status = status
	g.History = append(g.History, status)
}

// goodsInHeaderAttributes are the documented header attributes
// (core-resources/goods-in-receipt); lines go in lines_changes.
var goodsInHeaderAttributes = func() map[string]bool {
	m := map[string]bool{}
	for _, a := range []string{"account_id", "warehouse_id", "reference", "supplier_id", "expected_date_of_arrival",
		"actual_date_of_arrival", "notes", "lines_changes"} {
		m[a] = true
	}
	addGeneric(m)
	return m
}()

// goodsInLineAttributes are the documented line attributes, and
// product_storage_unit_id: the documentation says the storage unit of
// priority 0 goes "into the storage unit field on the receipt line"
// without naming the field (the name is assumed).
var goodsInLineAttributes = func() map[string]bool {
	m := map[string]bool{}
	for _, a := range []string{"product_id", "expected_quantity", "expected_configurations_quantity", "alt_line_note",
		"alt_line_number", "alt_line_reference", "alt_product_code", "product_storage_unit_id"} {
		m[a] = true
	}
	addGeneric(m)
	return m
}()

// addGeneric adds the generic fields most records have:
// external_system_reference1-3, string1-5, integer1-5, datetime1-5 and
// boolean1-5 (documented).
func addGeneric(m map[string]bool) {
	for i := 1; i <= 5; i++ {
		for _, p := range []string{"string", "integer", "datetime", "boolean"} {
			m[p+strconv.Itoa(i)] = true
		}
		if i <= 3 {
			m["external_system_reference"+strconv.Itoa(i)] = true
		}
	}
}

func (s *Sim) handleCreateGoodsIn(w http.ResponseWriter, r *http.Request) {
	res, ok := decodeResource(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := &goodsIn{PreReceipt: true}
	var v validation
	if res.Type != "goods_in_receipts" {
		v.add("type", "must be goods_in_receipts")
	}
	v.known(res.Attributes, "", goodsInHeaderAttributes)
	s.goodsInHeader(&v, res, g, true)
	lines := s.goodsInChanges(&v, res.Attributes["lines_changes"], nil)
	if len(v) > 0 {
		v.write(w)
		return
	}
	g.ID, g.CreatedAt = s.st.id(), s.tick()
	g.Lines = s.numberLines(lines, g.Warehouse)
	g.setStatus(inPending)
	s.st.receipts[g.ID] = g
	writeResource(w, http.StatusCreated, g.ID, "goods_in_receipts", s.goodsInAttributes(g))
}

// goodsInHeader reads the header attributes of a create (all required
// ones checked) or an update (only those given) into g.
func (s *Sim) goodsInHeader(v *validation, res *resource, g *goodsIn, create bool) {
	a := res.Attributes
	given := func(f string) bool { _, ok := a[f]; return ok }
	if create || given("reference") {
		// Documented as string | null. The maximum length is not shown: the
		// goods out's 50 is assumed.
		g.Reference = v.str(a, "reference")
		if n := utf8.RuneCountInString(g.Reference); n > maxReference {
			v.add("reference", "is too long (maximum is %d characters)", maxReference)
		}
	}
	switch id := v.id(a, "account_id"); {
	case id == 0 && create:
		v.add("account_id", "can't be blank")
	case id != 0 && id != s.account().ID:
		v.add("account_id", "does not exist")
	}
	switch id := v.id(a, "warehouse_id"); {
	case id == 0 && create:
		v.add("warehouse_id", "can't be blank")
	case id != 0:
		code, ok := s.st.warehouseCode(id)
		if !ok {
			v.add("warehouse_id", "does not exist")
		}
		g.Warehouse = code
	}
	if given("supplier_id") {
		g.SupplierID = v.id(a, "supplier_id") // the simulator keeps no suppliers: any id is taken
	}
	if given("notes") {
		g.Notes = v.str(a, "notes")
	}
	if given("expected_date_of_arrival") {
		g.ExpectedArrival = nil
		if d := v.str(a, "expected_date_of_arrival"); d != "" {
			if t, err := parseDate(d); err != nil {
				v.add("expected_date_of_arrival", "is not an ISO 8601 date-time")
			} else {
				g.ExpectedArrival = &t
			}
		}
	}
	if d := v.str(a, "actual_date_of_arrival"); d != "" {
		if _, err := parseDate(d); err != nil {
			v.add("actual_date_of_arrival", "is not an ISO 8601 date-time")
		}
	}
	for i := range g.ExternalRefs {
		setString(v, a, "external_system_reference"+strconv.Itoa(i+1), &g.ExternalRefs[i])
	}
	for i := range g.Strings {
		setString(v, a, "string"+strconv.Itoa(i+1), &g.Strings[i])
	}
	if addr := validateAddress(v, res); addr != nil {
		g.Address = addr
	}
}

// goodsInAttributes renders g as the attributes of a REST answer: the
// documented create answer's fields, and status (assumed).
func (s *Sim) goodsInAttributes(g *goodsIn) map[string]any {
	a := map[string]any{
		"account_id":               s.account().ID,
		"warehouse_id":             s.st.warehouseID(g.Warehouse),
		"reference":                optional(g.Reference),
		"status":                   g.Status,
		"expected_date_of_arrival": g.ExpectedArrival,
		"notes":                    optional(g.Notes),
		"created_at":               g.CreatedAt,
	}
	if g.SupplierID != 0 {
		a["supplier_id"] = g.SupplierID
	}
	for i, v := range g.ExternalRefs {
		a["external_system_reference"+strconv.Itoa(i+1)] = optional(v)
	}
	for i, v := range g.Strings {
		a["string"+strconv.Itoa(i+1)] = optional(v)
	}
	return a
}

// goodsInNotFound answers 404 for an unknown receipt id.
func goodsInNotFound(w http.ResponseWriter) {
	simkit.WriteError(w, http.StatusNotFound, "Goods in receipt not found")
}

// goodsInFor returns the receipt of the path's id, answering 404 when
// there is none. Callers hold s.mu.
func (s *Sim) goodsInFor(w http.ResponseWriter, r *http.Request) (*goodsIn, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	g, ok := s.st.receipts[id]
	if err != nil || !ok {
		goodsInNotFound(w)
		return nil, false
	}
	return g, true
}
