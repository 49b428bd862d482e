package clarussim

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/lockstep-dev/lockstep/connectors/simkit"
)

// The lines of a pre-receipt, changed through lines_changes (ADD, UPDATE,
// DESTROY: documented), and the update, cancel and release of a
// pre-receipt.

// goodsInChanges applies the lines_changes raw to a copy of current and
// returns the lines that result; added lines have no id yet. An ADD needs
// a stock product, a positive expected_quantity and the product's storage
// unit of priority 0 (the documented integration rule, enforced: a line
// without it is refused, so a client that skips the look-up fails here);
// an UPDATE changes a line's expected quantity or alt_* fields, not its
// product (assumed: destroy the line and add another); a DESTROY removes
// a line.
func (s *Sim) goodsInChanges(v *validation, raw json.RawMessage, current []inLine) []inLine {
	changes, ok := v.lineChanges(raw)
	if !ok {
		return nil
	}
	lines := slices.Clone(current)
	for _, c := range changes {
		if c.Type != "ADD" {
			i := slices.IndexFunc(lines, func(l inLine) bool { return c.ID != 0 && l.ID == c.ID })
			switch {
			case c.ID == 0:
				v.add(c.Field+".id", "can't be blank for %s", c.Type)
				continue
			case i < 0:
				v.add(c.Field+".id", "does not belong to this goods in receipt")
				continue
			case c.Type == "DESTROY":
				lines = slices.Delete(lines, i, i+1)
				continue
			}
			v.known(c.Attributes, c.Field+".attributes.", goodsInLineAttributes)
			for _, f := range []string{"product_id", "product_storage_unit_id"} {
				if _, ok := c.Attributes[f]; ok {
					v.add(c.Field+".attributes."+f, "cannot be changed: destroy the line and add another") // assumed
				}
			}
			if q, set := v.quantity(c.Attributes, "expected_quantity"); set {
				if q <= 0 {
					v.add(c.Field+".attributes.expected_quantity", "must be greater than 0")
				}
				lines[i].Expected = q
			}
			setString(v, c.Attributes, "alt_line_number", &lines[i].AltLineNumber)
			continue
		}
		v.known(c.Attributes, c.Field+".attributes.", goodsInLineAttributes)
		l := inLine{SKU: s.productOf(v, c, "product_id")}
		if pid := s.st.products[l.SKU]; pid != 0 && !s.st.stocked(pid) {
			v.add(c.Field+".attributes.product_id", "is not a stock product (product_type %s): it cannot be received", s.st.productTypes[pid])
		}
		l.StorageUnitID = s.priorityUnit(v, c, l.SKU)
		l.Expected = v.positive(c.Attributes, c.Field+".attributes.", "expected_quantity")
		l.AltLineNumber = v.str(c.Attributes, "alt_line_number")
		lines = append(lines, l)
	}
	return lines
}

// priorityUnit checks the storage unit of an ADD: given, one of the
// product's, and of priority 0.
func (s *Sim) priorityUnit(v *validation, c lineChange, sku string) int64 {
	field := c.Field + ".attributes.product_storage_unit_id"
	id := v.id(c.Attributes, "product_storage_unit_id")
	if id == 0 {
		if raw, given := c.Attributes["product_storage_unit_id"]; !given || string(raw) == "null" {
			v.add(field, "can't be blank: a receipt line takes the product's storage unit of priority 0")
		}
		return 0
	}
	u, ok := s.st.units[id]
	pid := s.st.products[sku]
	switch {
	case !ok:
		v.add(field, "does not exist")
	case sku != "" && u.ProductID != pid:
		v.add(field, "is a storage unit of product %d, not of product %d", u.ProductID, pid)
	case u.Priority != 0:
		v.add(field, "has priority %d: a receipt line takes the product's storage unit of priority 0", u.Priority)
	}
	return id
}

// numberLines gives the lines without an id one, and makes their products
// known in warehouse. Callers hold s.mu.
func (s *Sim) numberLines(lines []inLine, warehouse string) []inLine {
	for i := range lines {
		if lines[i].ID == 0 {
			lines[i].ID = s.st.id()
		}
		s.st.bal(skuKey{lines[i].SKU, warehouse}) // the product is known in the warehouse, if with no stock yet
	}
	return lines
}

// handleUpdateGoodsIn is PATCH /api/goods_in_receipts/{id} (documented:
// update-a-goods-in-receipt, the create's fields). Only a pending
// pre-receipt takes it: once receiving started, or after, it is refused
// (assumed, as Clarus refuses cancelling a picking goods out's work). A
// repeated update is applied again, with the same result; a repeated ADD
// adds another line.
func (s *Sim) handleUpdateGoodsIn(w http.ResponseWriter, r *http.Request) {
	res, ok := decodeResource(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.goodsInFor(w, r)
	if !ok {
		return
	}
	if g.Status != inPending {
		simkit.WriteError(w, http.StatusUnprocessableEntity, "Cannot update - "+receivingStarted(g))
		return
	}
	var v validation
	if res.Type != "goods_in_receipts" {
		v.add("type", "must be goods_in_receipts")
	}
	if len(res.ID) > 0 && string(res.ID) != "null" && strings.Trim(string(res.ID), `"`) != strconv.FormatInt(g.ID, 10) {
		v.add("id", "does not match the goods in receipt of the path")
	}
	v.known(res.Attributes, "", goodsInHeaderAttributes)
	next := *g
	s.goodsInHeader(&v, res, &next, false)
	lines := g.Lines
	if raw, ok := res.Attributes["lines_changes"]; ok {
		lines = s.goodsInChanges(&v, raw, g.Lines)
	}
	if len(v) > 0 {
		v.write(w)
		return
	}
	next.Lines = s.numberLines(lines, next.Warehouse)
	*g = next
	writeResource(w, http.StatusOK, g.ID, "goods_in_receipts", s.goodsInAttributes(g))
}

// receivingStarted says why a receipt can no longer be changed or
// cancelled (the words are assumed).
func receivingStarted(g *goodsIn) string {
	switch g.Status {
	case inCompleted:
		return "already received"
	case inCancelled:
		return "already cancelled"
	}
	return "receiving started"
}

// handleCancelGoodsIn is POST /api/goods_in_receipts/{id}/cancel: neither
// the path nor the behaviour is documented (assumed, as for goods outs). A
// pending pre-receipt is cancelled, and stays listed with status
// cancelled; one receiving, received or cancelled is refused (422).
func (s *Sim) handleCancelGoodsIn(w http.ResponseWriter, r *http.Request) {
	s.goodsInTransition(w, r, inCancelled, func(g *goodsIn) string {
		if g.Status != inPending {
			return "Cannot cancel - " + receivingStarted(g)
		}
		return ""
	})
}

// handleReleaseGoodsIn is POST /api/goods_in_receipts/{id}/receive
// (documented: the receipt must be PENDING with at least one line; it
// goes to RCV, receiving, and the warehouse can receive against it). The
// goods themselves come with a receive event (/_sim/events).
func (s *Sim) handleReleaseGoodsIn(w http.ResponseWriter, r *http.Request) {
	s.goodsInTransition(w, r, inReceiving, func(g *goodsIn) string {
		if g.Status != inPending || len(g.Lines) == 0 {
			return "Goods in receipt must be pending with at least one line (it is " + g.Status + ")"
		}
		return ""
	})
}

// goodsInTransition moves the receipt of the path to status, unless
// refusal says why not (422), and answers it.
func (s *Sim) goodsInTransition(w http.ResponseWriter, r *http.Request, status string, refusal func(*goodsIn) string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.goodsInFor(w, r)
	if !ok {
		return
	}
	if why := refusal(g); why != "" {
		simkit.WriteError(w, http.StatusUnprocessableEntity, why)
		return
	}
	g.setStatus(status)
	writeResource(w, http.StatusOK, g.ID, "goods_in_receipts", s.goodsInAttributes(g))
}
