package reconcile_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"html"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/lockstep-dev/lockstep/analytics/analyticstest"
	"github.com/lockstep-dev/lockstep/analytics/reconcile"
)

// chromium returns the headless browser: LOCKSTEP_CHROMIUM, else the first
// of the usual names on PATH. Missing, it skips the test locally and fails
// it under CI=true.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("LOCKSTEP_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome-stable", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const msg = "no chromium on PATH (install it with deploy/local/chromium.sh install, or set LOCKSTEP_CHROMIUM)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// dumpDOM loads path in headless Chromium and returns the DOM it built.
func dumpDOM(t *testing.T, path string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium(t), "--headless", "--no-sandbox", "--disable-gpu",
		"--user-data-dir="+t.TempDir(), "--dump-dom", "file://"+path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom %s: %v\n%s", path, err, stderr.String())
	}
	return string(out)
}

// byID returns the text of the element with id in a serialised DOM, whose
// totals elements hold text only.
func byID(t *testing.T, dom, id string) string {
	t.Helper()
	m := regexp.MustCompile(`<[a-z0-9]+\b[^>]*\bid="` + regexp.QuoteMeta(id) + `"[^>]*>([^<]*)<`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("no element with id %q in the rendered report", id)
	}
	return html.UnescapeString(strings.TrimSpace(m[1]))
}

// number reads a figure as the report shows it: 1,234.5000.
func number(t *testing.T, s string) decimal.Decimal {
	t.Helper()
	d, err := decimal.NewFromString(strings.ReplaceAll(s, ",", ""))
	if err != nil {
		t.Fatalf("figure %q: %v", s, err)
	}
	return d
}

// TestReportRendersInChromium renders the HTML report of a day with every
// kind of discrepancy, and a reference that tries to inject markup, in
// headless Chromium; the totals the browser shows are those the CSV adds up
// to, and the injected markup stayed text.
func TestReportRendersInChromium(t *testing.T) {
	chromium(t) // skip before seeding when there is no browser
	conn, _ := analyticstest.Migrated(t)
	seedDiscrepancies(t, conn)
	s := &seeder{t: t, conn: conn, offset: 1000}
	s.note("DN-X", `<script>document.title="owned"</script><b id="total-discrepancies">0</b>`, "=SUM(A1)", "prima", at("15:00"), "PR-A:1")
	r := run(t, conn, day, reconcile.Options{RunID: "run-html", Dir: t.TempDir()})

	dom := dumpDOM(t, r.HTMLPath)
	if !strings.Contains(dom, "<title>Shipments and despatch notes, 2026-03-02</title>") {
		t.Fatalf("the page did not render as the report:\n%.2000s", dom)
	}
	if strings.Contains(dom, "<script") || !strings.Contains(dom, `&lt;script&gt;document.title="owned"`) {
		t.Fatal("markup from a note reference was not shown as text")
	}
	// Counted as elements: the escaped text holds the attribute too.
	if n := len(regexp.MustCompile(`<[a-z0-9]+\b[^>]*\bid="total-discrepancies"`).FindAllString(dom, -1)); n != 1 {
		t.Fatalf("%d elements with id total-discrepancies: injected markup became an element", n)
	}

	// What the CSV adds up to.
	f, err := os.Open(r.CSVPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	var delta int64
	net := map[string]decimal.Decimal{}
	for _, rec := range recs[1:] {
		d, err := strconv.ParseInt(rec[col["delta_qty"]], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		delta += d
		if v := rec[col["value"]]; v != "" {
			net[rec[col["currency"]]] = net[rec[col["currency"]]].Add(decimal.RequireFromString(v))
		}
	}
	if got := byID(t, dom, reconcile.IDDiscrepancies); got != fmt.Sprint(len(recs)-1) {
		t.Errorf("the report shows %s discrepancies, the CSV has %d lines", got, len(recs)-1)
	}
	if got := strings.Count(dom, `<tr class="line"`); got != len(recs)-1 {
		t.Errorf("the report's table has %d lines, the CSV %d", got, len(recs)-1)
	}
	if got := number(t, byID(t, dom, reconcile.IDDeltaUnits)); !got.Equal(decimal.NewFromInt(delta)) {
		t.Errorf("the report shows a difference of %s units, the CSV adds up to %d", got, delta)
	}
	if len(net) != 1 {
		t.Errorf("the CSV has values in %d currencies, want EUR only", len(net))
	}
	for cur, want := range net {
		if got := number(t, byID(t, dom, "value-net-"+cur)); !got.Equal(want) {
			t.Errorf("the report shows a net value of %s %s, the CSV adds up to %s", got, cur, want)
		}
	}
	// The sides, against the report the run returned.
	for id, want := range map[string]int64{
		reconcile.IDShipments: int64(r.Shipments), reconcile.IDNotes: int64(r.Notes), reconcile.IDUnaccounted: int64(len(r.Unaccounted)),
		reconcile.IDShippedUnits: r.ShippedUnits, reconcile.IDNotedUnits: r.NotedUnits,
	} {
		if got := number(t, byID(t, dom, id)); !got.Equal(decimal.NewFromInt(want)) {
			t.Errorf("#%s shows %s, want %d", id, got, want)
		}
	}
	for _, m := range r.Money {
		if got := number(t, byID(t, dom, "value-shipped-"+m.Currency)); !got.Equal(m.Shipped) {
			t.Errorf("shipped value %s %s, want %s", got, m.Currency, m.Shipped)
		}
	}
	if n := strings.Count(dom, `<rect class="shipped"`); n != len(r.Warehouses) {
		t.Errorf("the chart has %d shipped bars, want one per warehouse (%d)", n, len(r.Warehouses))
	}
	// A formula typed into Prima stays text in a spreadsheet.
	if !slices.ContainsFunc(recs, func(rec []string) bool { return rec[col["order_ref"]] == "'=SUM(A1)" }) {
		t.Error("the order ref =SUM(A1) reached the CSV as a formula")
	}
}
