package discrepancy

import (
	"fmt"

	"github.com/lockstep-dev/lockstep/schemas"
)

// LineChanges describes, for a detail sentence, how the lines asked of
// Clarus changed from was to now, line by line, by line number: what
// Clarus would see (a product, by its Clarus code, or a quantity), not
// prices. Nil when nothing changed.
func LineChanges(was, now []schemas.ClarusLine) []string {
	var out []string
	prev := map[int]schemas.ClarusLine{}
	for _, l := range was {
		prev[l.LineNo] = l
	}
	kept := map[int]bool{}
	for _, l := range now {
		kept[l.LineNo] = true
		w, ok := prev[l.LineNo]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("line %d added (%s x%d)", l.LineNo, l.SKU, l.Quantity))
		case w.ClarusCode != l.ClarusCode:
			out = append(out, fmt.Sprintf("line %d now %s x%d, was %s x%d", l.LineNo, l.SKU, l.Quantity, w.SKU, w.Quantity))
		case w.Quantity != l.Quantity:
			out = append(out, fmt.Sprintf("line %d (%s) quantity %d -> %d", l.LineNo, l.SKU, w.Quantity, l.Quantity))
		}
	}
	for _, l := range was {
		if !kept[l.LineNo] {
			out = append(out, fmt.Sprintf("line %d removed (%s x%d)", l.LineNo, l.SKU, l.Quantity))
		}
	}
	return out
}
