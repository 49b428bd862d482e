package reconcile

import (
	_ "embed"
	"html/template"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

//go:embed report.html.tmpl
var reportTemplate string

// html/template escapes every value for where it lands (text, attribute,
// SVG), so that a reference a person typed into Prima cannot break or
// script the page.
var reportHTML = template.Must(template.New("report").Funcs(template.FuncMap{
	"units": units,
	"money": money,
	"kind":  kindLabel,
}).Parse(reportTemplate))

// The element ids of the report's totals, which tests and scrapers read.
// Per-currency ids end in the currency code (e.g. value-net-EUR).
const (
	IDShipments     = "total-shipments"
	IDNotes         = "total-notes"
	IDShippedUnits  = "total-shipped-units"
	IDNotedUnits    = "total-noted-units"
	IDDiscrepancies = "total-discrepancies"
	IDDeltaUnits    = "total-delta-units"
	IDUnaccounted   = "total-unaccounted"
)

// view is what the template shows.
type view struct {
	*Report
	DayText     string
	Watermark   string
	Started     string
	Finished    string
	DeltaUnits  int64
	Money       []moneyView
	Kinds       []kindCount
	Chart       chart
	GeneratedBy string
}

type moneyView struct {
	Currency, ID string
	Shipped      decimal.Decimal
	Noted        decimal.Decimal
	Net          decimal.Decimal
}

type kindCount struct {
	Kind string
	N    int
}

// WriteHTML writes r as one self-contained HTML page: inline CSS and an
// inline SVG chart, no script, no external resource.
func WriteHTML(w io.Writer, r *Report) error {
	v := view{
		Report: r, DayText: r.Day.Format("Monday 2 January 2006"), Watermark: stamp(r.Watermark),
		Started: stamp(r.StartedAt), Finished: stamp(r.FinishedAt), Chart: newChart(r.Warehouses),
	}
	counts := map[string]int{}
	for _, l := range r.Lines {
		v.DeltaUnits += l.DeltaQty
		counts[l.Kind]++
	}
	for _, k := range []string{KindMissingDespatch, KindDespatchMismatch, KindDespatchWithoutShipment, KindSKUUnmapped} {
		if counts[k] > 0 {
			v.Kinds = append(v.Kinds, kindCount{k, counts[k]})
		}
	}
	for _, m := range r.Money {
		v.Money = append(v.Money, moneyView{Currency: m.Currency, ID: idPart(m.Currency), Shipped: m.Shipped, Noted: m.Noted, Net: m.Net})
	}
	return reportHTML.Execute(w, v)
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") + " UTC" }

var notID = regexp.MustCompile(`[^A-Za-z0-9_-]`)

// idPart makes a currency code safe inside an id.
func idPart(s string) string {
	if s == "" {
		return "none"
	}
	return notID.ReplaceAllString(s, "_")
}

// units formats a count or quantity with thousands separators: 12,345.
func units(n any) string {
	switch v := n.(type) {
	case int:
		return group(strconv.Itoa(v))
	case int64:
		return group(strconv.FormatInt(v, 10))
	}
	return "?"
}

// money formats an amount with thousands separators and the four decimals
// of Decimal(18,4): 1,234.5000. A nil amount is a dash.
func money(d any) string {
	switch v := d.(type) {
	case decimal.Decimal:
		return group(v.StringFixed(4))
	case *decimal.Decimal:
		if v != nil {
			return group(v.StringFixed(4))
		}
	}
	return "–"
}

// group puts commas between thousands of a number's integer part.
func group(s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	intPart, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if hasFrac {
		b.WriteString("." + frac)
	}
	return sign + b.String()
}

// kindLabel names a line kind for a reader in finance.
func kindLabel(k string) string {
	switch k {
	case KindMissingDespatch:
		return "Shipped, no despatch note"
	case KindDespatchMismatch:
		return "Quantities differ"
	case KindDespatchWithoutShipment:
		return "Despatch note, no shipment"
	case KindSKUUnmapped:
		return "Clarus code without Prima SKU"
	}
	return k
}
