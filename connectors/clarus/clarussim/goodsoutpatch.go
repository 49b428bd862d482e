package clarussim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/lockstep-dev/lockstep/connectors/simkit"
)

// PATCH /api/goods_outs/{id} (and /api/v1): update a goods out
// (documented: goods-out:-orders/update-a-goods-out-order, "same fields"
// as the create, in the JSON:API envelope). The simulator keeps what it
// keeps on create (reference, external_system_reference1-3, string1-5)
// and accepts the other documented attributes without keeping them. It
// does not change lines or warehouses: lines_changes, and a warehouse_id
// or account_id other than the goods out's, are refused (assumed: the
// documentation does not say what Clarus does with them on an order being
// picked). Any status may be updated, a dispatched (COMPLETED) one
// included: lockstep closes those (string5). A repeated update is applied
// again, with the same result.

func (s *Sim) handleUpdateGoodsOut(w http.ResponseWriter, r *http.Request) {
	id, perr := strconv.ParseInt(r.PathValue("id"), 10, 64)
	res, ok := decodeResource(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, found := s.st.orders[id]
	if perr != nil || !found {
		simkit.WriteError(w, http.StatusNotFound, "Goods out not found")
		return
	}
	var v validation
	if res.Type != "goods_outs" {
		v.add("type", "must be goods_outs")
	}
	if len(res.ID) > 0 && string(res.ID) != "null" && strings.Trim(string(res.ID), `"`) != strconv.FormatInt(id, 10) {
		v.add("id", "does not match the goods out of the path")
	}
	a := res.Attributes
	v.known(a, "", goodsOutAttributes)
	if _, ok := a["lines_changes"]; ok {
		v.add("lines_changes", "is not supported on update by the simulator") // assumed
	}
	if n := v.id(a, "warehouse_id"); n != 0 && n != s.st.warehouseID(o.Warehouse) {
		v.add("warehouse_id", "cannot be changed") // assumed
	}
	if n := v.id(a, "account_id"); n != 0 && n != s.account().ID {
		v.add("account_id", "cannot be changed") // assumed
	}
	_, hasRef := a["reference"]
	newRef := v.str(a, "reference")
	if hasRef {
		switch n := utf8.RuneCountInString(newRef); {
		case n == 0:
			v.add("reference", "can't be blank")
		case n > maxReference:
			v.add("reference", "is too long (maximum is %d characters)", maxReference)
		}
	}
	refs, strs := o.ExternalRefs, o.Strings
	for i := range refs {
		setString(&v, a, "external_system_reference"+strconv.Itoa(i+1), &refs[i])
	}
	for i := range strs {
		setString(&v, a, "string"+strconv.Itoa(i+1), &strs[i])
	}
	if len(v) > 0 {
		v.write(w)
		return
	}
	if hasRef {
		o.Reference = newRef
	}
	o.ExternalRefs, o.Strings = refs, strs
	writeResource(w, http.StatusOK, o.ID, "goods_outs", s.goodsOutAttributes(o))
}

// setString sets *dst to the string attribute field when it is given (null
// clears it).
func setString(v *validation, attrs map[string]json.RawMessage, field string, dst *string) {
	if _, ok := attrs[field]; ok {
		*dst = v.str(attrs, field)
	}
}
