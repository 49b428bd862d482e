package clarus

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/lockstep-dev/lockstep/schemas"
)

// Creating a pre-receipt: the command checked against what Clarus would
// take, its codes resolved to the products' storage units of priority 0
// (the documented integration rule), the reference looked up, then one
// create at a time, looking up again after any failure that may have
// created.

// plannedReceipt is the pre-receipt a create or update command asks for.
type plannedReceipt struct {
	g     NewGoodsInReceipt
	codes []string                  // the lines' Clarus codes, NFC, once each
	want  map[string]int64          // expected quantity per code
	lines map[string]NewGoodsInLine // per code, with the quantities summed: what an update adds
}

// plan builds the pre-receipt of cmd, or says why Clarus could not take it
// (a rejection, no write made). It reads the storage units of priority 0
// of the command's products.
func (s *ReceiptSink) plan(ctx context.Context, cmd *schemas.ClarusReceiptCommand) (plannedReceipt, string, error) {
	p := plannedReceipt{want: map[string]int64{}, lines: map[string]NewGoodsInLine{}}
	// The reference comes back on the receipt, where lockstep reads it as
	// an identifier (a Kafka key): one it would refuse there is refused
	// here, before the warehouse sees it.
	if _, err := Identifier("po_ref", cmd.PORef); err != nil {
		return p, err.Error(), nil
	}
	if n := utf8.RuneCountInString(cmd.PORef); n > maxReferenceLen {
		return p, fmt.Sprintf("po_ref is %d characters long; a Clarus reference takes at most %d (assumed as for goods outs)", n, maxReferenceLen), nil
	}
	wh, err := Identifier("warehouse", cmd.Warehouse)
	if err == nil && s.warehouseIDs[wh] == "" {
		err = fmt.Errorf("warehouse %q is not one of %sWAREHOUSES", cmd.Warehouse, EnvPrefix)
	}
	if err != nil {
		return p, err.Error(), nil
	}
	if len(cmd.Lines) == 0 {
		return p, "the command has no lines", nil
	}
	for _, l := range cmd.Lines {
		if l.ClarusCode == "" || l.Quantity <= 0 {
			return p, fmt.Sprintf("line %d (%s): want a Clarus code and a positive quantity, got %q and %d", l.LineNo, l.SKU, l.ClarusCode, l.Quantity), nil
		}
		code := norm.NFC.String(l.ClarusCode)
		if !slices.Contains(p.codes, code) {
			p.codes = append(p.codes, code)
		}
		p.want[code] += l.Quantity
	}
	units, err := retried(ctx, s.sinkLoop, "units", func(ctx context.Context) (map[string]StorageUnit, error) { return s.api.ReceivingUnits(ctx, p.codes) })
	if err != nil {
		return p, "", err
	}
	if reason, err := s.unitless(ctx, p.codes, units); reason != "" || err != nil {
		return p, reason, err
	}
	p.g = NewGoodsInReceipt{Reference: cmd.PORef, AccountID: s.cfg.AccountID, WarehouseID: s.warehouseIDs[wh]}
	if cmd.ExpectedAt != nil {
		t := cmd.ExpectedAt.UTC().Truncate(time.Second)
		p.g.ExpectedArrival = &t
	}
	// lockstep's PO ref, supplier and version, where a person looking at
	// the receipt in Clarus sees them (documented use of these fields).
	p.g.ExternalRefs[0], p.g.ExternalRefs[1], p.g.Strings[0] = cmd.PORef, cmd.SupplierRef, fmt.Sprintf("v%d", cmd.POVersion)
	for _, l := range cmd.Lines {
		code := norm.NFC.String(l.ClarusCode)
		u := units[code]
		line := NewGoodsInLine{ProductID: u.ProductID, StorageUnitID: u.ID, Quantity: l.Quantity, LineNumber: strconv.Itoa(l.LineNo)}
		p.g.Lines = append(p.g.Lines, line)
		if _, ok := p.lines[code]; !ok {
			line.Quantity = p.want[code]
			p.lines[code] = line
		}
	}
	return p, "", nil
}

// unitless says which of codes have no storage unit of priority 0 in
// units, telling a product Clarus does not have from one without the unit
// a receipt line needs; "" when every code has one.
func (s *ReceiptSink) unitless(ctx context.Context, codes []string, units map[string]StorageUnit) (string, error) {
	var missing []string
	for _, c := range codes {
		if _, ok := units[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) == 0 {
		return "", nil
	}
	ids, err := retried(ctx, s.sinkLoop, "products", func(ctx context.Context) (map[string]string, error) { return s.api.ProductIDs(ctx, missing) })
	if err != nil {
		return "", err
	}
	var unknown, noUnit []string
	for _, c := range missing {
		if ids[c] == "" {
			unknown = append(unknown, c)
		} else {
			noUnit = append(noUnit, c)
		}
	}
	var why []string
	if len(unknown) > 0 {
		why = append(why, "no Clarus product has the code "+strings.Join(unknown, ", "))
	}
	if len(noUnit) > 0 {
		why = append(why, "no storage unit of priority 0 (which a receipt line takes) for "+strings.Join(noUnit, ", "))
	}
	return strings.Join(why, "; "), nil
}

// create creates the pre-receipt of cmd, unless one already stands for it.
func (s *ReceiptSink) create(ctx context.Context, cmd *schemas.ClarusReceiptCommand) (answer, error) {
	p, reason, err := s.plan(ctx, cmd)
	if err != nil || reason != "" {
		return rejected("%s", reason), err
	}
	return s.createOnce(ctx, "create", func(ctx context.Context) (answer, bool, error) { return s.standing(ctx, cmd, p) },
		func(ctx context.Context) (string, error) { return s.api.CreateGoodsInReceipt(ctx, p.g) },
		func(id string) answer { return answer{status: string(schemas.ReceiptCreated), clarusID: id} },
		func(reason string) answer {
			s.api.forgetProducts(p.codes...) // a unit or id Clarus refused is looked up afresh next time
			return rejected("Clarus refused the pre-receipt: %s", reason)
		})
}

// standing looks up the receipts with cmd's reference. One that stands
// (not cancelled) in the command's warehouse expecting the command's lines
// is cmd's own, from an attempt whose answer or transaction was lost:
// found, acked created. One that stands with other lines is another
// version's, which this create must not duplicate: found, acked rejected.
func (s *ReceiptSink) standing(ctx context.Context, cmd *schemas.ClarusReceiptCommand, p plannedReceipt) (answer, bool, error) {
	all, err := s.lookup(ctx, cmd.PORef)
	if err != nil {
		return answer{}, false, err
	}
	var active []GoodsInReceipt
	for _, g := range all {
		if !g.Active() {
			continue
		}
		if p.holds(g) {
			return answer{status: string(schemas.ReceiptCreated), clarusID: g.ID,
				reason: fmt.Sprintf("already in Clarus as pre-receipt %s (%s): not created again", g.ID, g.Status)}, true, nil
		}
		active = append(active, g)
	}
	if len(active) == 0 {
		return answer{}, false, nil
	}
	g := active[0]
	return rejected("pre-receipt %s with reference %s is in Clarus (%s) with other lines: a second one is not created", g.ID, cmd.PORef, g.Status), true, nil
}

// holds reports whether g is p: the same warehouse, expecting the same
// quantities of the same products.
func (p plannedReceipt) holds(g GoodsInReceipt) bool {
	return g.WarehouseID == p.g.WarehouseID && equalCounts(g.Expected(), p.want)
}

// lookup returns the receipts with reference ref, retrying until Clarus
// answers.
func (s *ReceiptSink) lookup(ctx context.Context, ref string) ([]GoodsInReceipt, error) {
	return retried(ctx, s.sinkLoop, "lookup", func(ctx context.Context) ([]GoodsInReceipt, error) { return s.api.GoodsInReceiptsByReference(ctx, ref) })
}
