package clarussim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/lockstep-dev/lockstep/connectors/simkit"
)

// POST /api/goods_outs and POST /api/goods_outs/{id}/cancel (also under
// /api/v1, the documented discrepancy). Creation validates as strictly as
// the documentation allows (core-resources/goods-out: account_id,
// expected_date_of_dispatch, goods_out_type and reference are required,
// reference at most 50 characters) and more where it is silent (marked
// assumed in clarus.openapi.yaml): a connector that passes here should
// not be refused by Clarus for a field it got wrong. A duplicate reference is
// accepted, as nothing says Clarus refuses one: idempotency is the
// client's business.

// goodsOutAttributes are the documented attributes of a goods out
// (api-reference/goods-out:-orders/create-a-goods-out-order and
// core-resources/goods-out); the simulator keeps some and accepts the rest.
var goodsOutAttributes = func() map[string]bool {
	m := map[string]bool{}
	for _, a := range []string{"goods_out_type", "account_id", "reference", "expected_date_of_dispatch", "warehouse_id", "priority",
		"customer_id", "carrier_id", "carrier_service_id", "dispatch_strategy", "delivery_notes", "integration_id", "lines_changes"} {
		m[a] = true
	}
	addGeneric(m)
	return m
}()

var (
	lineAttributes    = map[string]bool{"product_id": true, "order_quantity": true, "alt_line_number": true, "alt_line_reference": true, "alt_product_code": true}
	addressAttributes = map[string]bool{"name": true, "address_1": true, "address_2": true, "address_3": true, "address_4": true,
		"postcode": true, "country_code": true, "email_address": true, "phone_number": true}
	goodsOutTypes = map[string]bool{"sales_order": true, "work_order": true, "crossdock": true}
)

// maxReference is the documented maximum length of a goods-out reference.
const maxReference = 50

// newGoodsOut is a create request that passed validation.
type newGoodsOut struct {
	o     *goodsOut
	lines []Line
}

func (s *Sim) handleCreateGoodsOut(w http.ResponseWriter, r *http.Request) {
	res, ok := decodeResource(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	req, errs := s.validateGoodsOut(res)
	if len(errs) > 0 {
		errs.write(w)
		return
	}
	o := req.o
	o.ID, o.CreatedAt = s.st.id(), s.tick()
	s.addOrder(o, req.lines)
	writeResource(w, http.StatusCreated, o.ID, "goods_outs", s.goodsOutAttributes(o))
}

// validateGoodsOut checks a create request against the ground truth:
// the warehouse, account and products must exist. Callers hold s.mu.
func (s *Sim) validateGoodsOut(res *resource) (newGoodsOut, validation) {
	var v validation
	if res.Type != "goods_outs" {
		v.add("type", "must be goods_outs")
	}
	a := res.Attributes
	v.known(a, "", goodsOutAttributes)
	o := &goodsOut{GoodsOutType: v.str(a, "goods_out_type"), Reference: v.str(a, "reference")}
	switch {
	case o.GoodsOutType == "":
		v.add("goods_out_type", "can't be blank")
	case !goodsOutTypes[o.GoodsOutType]:
		v.add("goods_out_type", "is not included in the list (sales_order, work_order, crossdock)")
	}
	switch n := utf8.RuneCountInString(o.Reference); {
	case n == 0:
		v.add("reference", "can't be blank")
	case n > maxReference:
		v.add("reference", "is too long (maximum is %d characters)", maxReference)
	}
	switch id := v.id(a, "account_id"); {
	case id == 0:
		v.add("account_id", "can't be blank")
	case id != s.account().ID:
		v.add("account_id", "does not exist")
	}
	switch id := v.id(a, "warehouse_id"); {
	case id == 0:
		v.add("warehouse_id", "can't be blank")
	default:
		code, ok := s.st.warehouseCode(id)
		if !ok {
			v.add("warehouse_id", "does not exist")
		}
		o.Warehouse = code
	}
	if d := v.str(a, "expected_date_of_dispatch"); d == "" {
		v.add("expected_date_of_dispatch", "can't be blank")
	} else if t, err := parseDate(d); err != nil {
		v.add("expected_date_of_dispatch", "is not an ISO 8601 date-time")
	} else {
		o.ExpectedDispatch = &t
	}
	for i := range o.ExternalRefs {
		o.ExternalRefs[i] = v.str(a, "external_system_reference"+strconv.Itoa(i+1))
	}
	for i := range o.Strings {
		o.Strings[i] = v.str(a, "string"+strconv.Itoa(i+1))
	}
	lines := s.validateLines(&v, a["lines_changes"])
	o.Address = validateAddress(&v, res)
	return newGoodsOut{o: o, lines: lines}, v
}

// validateLines reads lines_changes: on a new goods out only ADD entries,
// each with a known product and a positive quantity.
func (s *Sim) validateLines(v *validation, raw json.RawMessage) []Line {
	changes, ok := v.lineChanges(raw)
	if !ok {
		return nil
	}
	var lines []Line
	for _, c := range changes {
		if c.Type != "ADD" {
			v.add(c.Field+".id", "does not belong to this goods out") // a new goods out has no lines yet
			continue
		}
		v.known(c.Attributes, c.Field+".attributes.", lineAttributes)
		l := Line{SKU: s.productOf(v, c, "product_id")}
		l.Quantity = v.positive(c.Attributes, c.Field+".attributes.", "order_quantity")
		lines = append(lines, l)
	}
	if len(changes) == 0 {
		v.add("lines_changes", "must add at least one line") // assumed
	}
	return lines
}

// productOf returns the code of the product a line change names in field,
// adding an error when it names none or an unknown one.
func (s *Sim) productOf(v *validation, c lineChange, field string) string {
	switch id := v.id(c.Attributes, field); {
	case id == 0:
		v.add(c.Field+".attributes."+field, "can't be blank")
	default:
		code, ok := s.st.codes[id]
		if !ok {
			v.add(c.Field+".attributes."+field, "does not exist")
		}
		return code
	}
	return ""
}

// validateAddress reads relationships.address.data, the delivery address:
// optional, and when given with a name, a first line and an ISO 3166-1
// alpha-2 country code (which fields are required is assumed).
func validateAddress(v *validation, res *resource) *Address {
	rel, ok := res.Relationships["address"]
	if !ok || rel.Data == nil {
		return nil
	}
	if rel.Data.Type != "addresses" {
		v.add("address.type", "must be addresses")
	}
	a := rel.Data.Attributes
	v.known(a, "address.", addressAttributes)
	addr := &Address{Name: v.str(a, "name"), Address1: v.str(a, "address_1"), Address2: v.str(a, "address_2"),
		Address3: v.str(a, "address_3"), Address4: v.str(a, "address_4"), Postcode: v.str(a, "postcode"), CountryCode: v.str(a, "country_code")}
	if addr.Name == "" {
		v.add("address.name", "can't be blank")
	}
	if addr.Address1 == "" {
		v.add("address.address_1", "can't be blank")
	}
	if !isAlpha2(addr.CountryCode) {
		v.add("address.country_code", "must be an ISO 3166-1 alpha-2 code")
	}
	return addr
}

// isAlpha2 checks the form of an ISO 3166-1 alpha-2 code (two capital
// letters), not that the country exists.
func isAlpha2(c string) bool {
	return len(c) == 2 && c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z'
}

func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Parse(time.DateOnly, s)
}

// handleCancelGoodsOut is POST /api/goods_outs/{id}/cancel: the path is
// assumed, the behaviour documented (see Sim.cancel).
func (s *Sim) handleCancelGoodsOut(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.st.orders[id]
	if err != nil || !ok {
		simkit.WriteError(w, http.StatusNotFound, "Goods out not found")
		return
	}
	_, deleted, refusal := s.cancel(o, s.tick())
	if refusal != nil {
		simkit.WriteError(w, http.StatusUnprocessableEntity, refusal.Reason)
		return
	}
	attrs := s.goodsOutAttributes(o)
	attrs["deleted"] = deleted // assumed: whether Clarus deleted the order (DRAFT, PENDING) rather than cancelled it
	writeResource(w, http.StatusOK, o.ID, "goods_outs", attrs)
}

// goodsOutAttributes renders o as the attributes of a REST answer.
func (s *Sim) goodsOutAttributes(o *goodsOut) map[string]any {
	a := map[string]any{
		"goods_out_type":            o.GoodsOutType,
		"reference":                 o.Reference,
		"goods_out_status_id":       o.StatusID,
		"goods_out_status":          goodsOutStatus{ID: o.StatusID, Code: statusCodes[o.StatusID], Name: statusNames[o.StatusID]},
		"account_id":                s.account().ID,
		"warehouse_id":              s.st.warehouseID(o.Warehouse),
		"expected_date_of_dispatch": o.ExpectedDispatch,
		"created_at":                o.CreatedAt,
	}
	for i, v := range o.ExternalRefs {
		a["external_system_reference"+strconv.Itoa(i+1)] = optional(v)
	}
	for i, v := range o.Strings {
		a["string"+strconv.Itoa(i+1)] = optional(v)
	}
	return a
}
