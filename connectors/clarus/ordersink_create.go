package clarus

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/lockstep-dev/lockstep/schemas"
)

// Creating a goods out: the command checked against what Clarus would take,
// its codes resolved to product ids, the reference looked up, then one
// create at a time, looking up again after any failure that may have
// created.

// newGoodsOut builds the goods out of a create command, or says why
// Clarus could not take it. Product ids are filled in later.
func (s *OrderSink) newGoodsOut(cmd *schemas.ClarusOrderCommand) (NewGoodsOut, string) {
	g := NewGoodsOut{Reference: cmd.OrderRef, AccountID: s.cfg.AccountID,
		// The command carries no date: dispatch as soon as possible.
		ExpectedDispatch: s.o.Clock.Now().UTC().Truncate(time.Second)}
	if n := utf8.RuneCountInString(cmd.OrderRef); n > maxReferenceLen {
		return g, fmt.Sprintf("order ref is %d characters long; a Clarus reference takes at most %d", n, maxReferenceLen)
	}
	wh, err := Identifier("warehouse", cmd.Warehouse)
	if err == nil && s.warehouseIDs[wh] == "" {
		err = fmt.Errorf("warehouse %q is not one of %sWAREHOUSES", cmd.Warehouse, EnvPrefix)
	}
	if err != nil {
		return g, err.Error()
	}
	g.WarehouseID = s.warehouseIDs[wh]
	if len(cmd.Lines) == 0 {
		return g, "the command has no lines"
	}
	for _, l := range cmd.Lines {
		if l.ClarusCode == "" || l.Quantity <= 0 {
			return g, fmt.Sprintf("line %d (%s): want a Clarus code and a positive quantity, got %q and %d", l.LineNo, l.SKU, l.ClarusCode, l.Quantity)
		}
		g.Lines = append(g.Lines, NewGoodsOutLine{Quantity: l.Quantity})
	}
	// lockstep's order ref and version, where a person looking at the
	// goods out in Clarus sees them (documented use of these fields).
	g.ExternalRefs[0], g.Strings[0] = cmd.OrderRef, fmt.Sprintf("v%d", cmd.OrderVersion)
	if cmd.CustomerRef != nil {
		g.ExternalRefs[1] = *cmd.CustomerRef
	}
	if d := cmd.Delivery; d != nil {
		g.Address = &Address{Name: d.Name, Line1: d.Line1, Line2: deref(d.Line2), Town: d.City, Region: deref(d.Region),
			Postcode: d.Postcode, CountryCode: d.CountryCode}
	}
	return g, ""
}

// deref is *p, or T's zero value for nil.
func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// codes returns the distinct Clarus codes of cmd's lines, in NFC.
func codes(cmd *schemas.ClarusOrderCommand) []string {
	var out []string
	for _, l := range cmd.Lines {
		if c := norm.NFC.String(l.ClarusCode); !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// create creates the goods out of cmd, unless one already stands for it.
func (s *OrderSink) create(ctx context.Context, cmd *schemas.ClarusOrderCommand) (answer, error) {
	if r, ok := s.takeRefusedCancel(cmd.OrderRef); ok && r.version == cmd.OrderVersion {
		return rejected("not re-created: the cancel of the goods out in Clarus before it was refused (%s)", r.reason), nil
	}
	g, reason := s.newGoodsOut(cmd)
	if reason != "" {
		return rejected("%s", reason), nil
	}
	want := codes(cmd)
	ids, err := retried(ctx, s.sinkLoop, "products", func(ctx context.Context) (map[string]string, error) { return s.api.ProductIDs(ctx, want) })
	if err != nil {
		return answer{}, err
	}
	var missing []string
	for _, c := range want {
		if ids[c] == "" {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return rejected("no Clarus product has the code %s", strings.Join(missing, ", ")), nil
	}
	for i, l := range cmd.Lines {
		g.Lines[i].ProductID = ids[norm.NFC.String(l.ClarusCode)]
	}
	return s.createOnce(ctx, "create", func(ctx context.Context) (answer, bool, error) { return s.standing(ctx, cmd) },
		func(ctx context.Context) (string, error) { return s.api.CreateGoodsOut(ctx, g) },
		func(id string) answer { return answer{status: string(schemas.OrderCreated), clarusID: id} },
		func(reason string) answer {
			s.api.forgetProducts(want...) // an id Clarus refused is looked up afresh next time
			return rejected("Clarus refused the goods out: %s", reason)
		})
}

// standing looks up the goods outs with cmd's reference. One that stands
// (not cancelled) with cmd's lines is cmd's own, from an attempt whose
// answer or transaction was lost: found, acked created. One that stands
// with other lines is another version's, which this create must not
// duplicate: found, acked rejected.
func (s *OrderSink) standing(ctx context.Context, cmd *schemas.ClarusOrderCommand) (answer, bool, error) {
	all, err := s.lookup(ctx, cmd.OrderRef)
	if err != nil {
		return answer{}, false, err
	}
	var active []GoodsOut
	var ids []string
	for _, g := range all {
		if g.Active() {
			active, ids = append(active, g), append(ids, g.ID)
		}
	}
	if len(active) == 0 {
		return answer{}, false, nil
	}
	lines, err := retried(ctx, s.sinkLoop, "lines", func(ctx context.Context) ([]GoodsOutLine, error) { return s.api.GoodsOutLines(ctx, ids) })
	if err != nil {
		return answer{}, false, err
	}
	want := map[string]int64{}
	for _, l := range cmd.Lines {
		want[norm.NFC.String(l.ClarusCode)] += l.Quantity
	}
	for _, g := range active {
		got := map[string]int64{}
		for _, l := range lines {
			if l.GoodsOutID == g.ID {
				got[l.ProductCode] += l.OrderQuantity
			}
		}
		if equalCounts(want, got) {
			return answer{status: string(schemas.OrderCreated), clarusID: g.ID,
				reason: fmt.Sprintf("already in Clarus as goods out %s (%s): not created again", g.ID, g.Status)}, true, nil
		}
	}
	g := active[0]
	return rejected("goods out %s with reference %s is in Clarus (%s) with other lines: a second one is not created", g.ID, cmd.OrderRef, g.Status), true, nil
}

// lookup returns the goods outs with reference ref, retrying until Clarus
// answers.
func (s *OrderSink) lookup(ctx context.Context, ref string) ([]GoodsOut, error) {
	return retried(ctx, s.sinkLoop, "lookup", func(ctx context.Context) ([]GoodsOut, error) { return s.api.GoodsOutsByReference(ctx, ref) })
}

func equalCounts(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
