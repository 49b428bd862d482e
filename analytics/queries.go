package analytics

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

//go:embed queries/*.sql
var queryFS embed.FS

// Names of the finance queries under analytics/queries (the file name
// without .sql).
const (
	// QueryOpenDriftByOwner: open discrepancies per owner, kind and currency,
	// with their net and gross value.
	QueryOpenDriftByOwner = "open_drift_by_owner"
	// QueryStockParityValueByWarehouse: open stock_parity discrepancies per
	// warehouse and currency, in units and value.
	QueryStockParityValueByWarehouse = "stock_parity_value_by_warehouse"
	// QueryDriftDailySummary: discrepancies opened, acknowledged and
	// resolved per day (UTC) and kind.
	QueryDriftDailySummary = "drift_daily_summary"
	// QueryReconciliationLatest: the latest daily reconciliation of Clarus
	// shipments against Prima despatch notes, its summary and its lines.
	QueryReconciliationLatest = "reconciliation_latest"
	// QueryUnbilledShipments: Clarus shipments without a Prima despatch
	// note, with their value at unit cost.
	QueryUnbilledShipments = "unbilled_shipments"
	// QueryReceivedAgainstPO: per line of the latest version of every live
	// purchase order, the units ordered, received against it by Clarus and
	// still outstanding, with their value at the PO's unit cost.
	QueryReceivedAgainstPO = "received_against_po"
	// QueryReceiptsWithoutPO: Clarus receipts that match no live purchase
	// order (no PO reference, an unknown PO, a cancelled PO).
	QueryReceiptsWithoutPO = "receipts_without_po"
)

// questionPrefix starts the comment that says what a query answers; every
// query file opens with it.
const questionPrefix = "-- Question:"

// NamedQuery is one finance question answered in SQL: a file
// analytics/queries/NAME.sql holding one SELECT with no parameters, over the
// ledger's tables and views, portable between ClickHouse 18.16 and current
// releases.
type NamedQuery struct {
	// Name is the file name without .sql, e.g. "open_drift_by_owner".
	Name string
	// Question is the text of the file's opening "-- Question:" comment,
	// its lines joined with spaces.
	Question string
	// SQL is the statement, without comments or a trailing ';', ready for
	// conn.Query.
	SQL string
}

// Queries returns the embedded finance queries, by name.
func Queries() ([]NamedQuery, error) { return loadQueries(queryFS, "queries") }

// LookupQuery returns the embedded finance query called name.
func LookupQuery(name string) (NamedQuery, error) {
	qs, err := Queries()
	if err != nil {
		return NamedQuery{}, err
	}
	for _, q := range qs {
		if q.Name == name {
			return q, nil
		}
	}
	return NamedQuery{}, fmt.Errorf("analytics: no query named %q", name)
}

func loadQueries(fsys fs.FS, dir string) ([]NamedQuery, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("analytics: read queries: %w", err)
	}
	var qs []NamedQuery
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".sql")
		if e.IsDir() || !ok {
			continue
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("analytics: read query %s: %w", e.Name(), err)
		}
		q, err := parseQuery(name, string(b))
		if err != nil {
			return nil, err
		}
		qs = append(qs, q)
	}
	sort.Slice(qs, func(i, j int) bool { return qs[i].Name < qs[j].Name })
	return qs, nil
}

// parseQuery checks a query file's shape: the "-- Question:" comment first,
// then exactly one statement.
func parseQuery(name, src string) (NamedQuery, error) {
	rest, ok := strings.CutPrefix(src, questionPrefix)
	if !ok {
		return NamedQuery{}, fmt.Errorf("analytics: query %s.sql must open with a %q comment saying what it answers", name, questionPrefix)
	}
	// The question runs to the first empty comment line or the first line
	// that is not a comment.
	lines := strings.Split(rest, "\n")
	parts := []string{strings.TrimSpace(lines[0])}
	for _, l := range lines[1:] {
		text, isComment := strings.CutPrefix(strings.TrimSpace(l), "--")
		text = strings.TrimSpace(text)
		if !isComment || text == "" {
			break
		}
		parts = append(parts, text)
	}
	question := strings.Join(parts, " ")
	if question == "" {
		return NamedQuery{}, fmt.Errorf("analytics: query %s.sql: empty question", name)
	}
	stmts, err := SplitStatements(src)
	if err != nil {
		return NamedQuery{}, fmt.Errorf("analytics: query %s.sql: %w", name, err)
	}
	if len(stmts) != 1 {
		return NamedQuery{}, fmt.Errorf("analytics: query %s.sql holds %d statements, want 1", name, len(stmts))
	}
	return NamedQuery{Name: name, Question: question, SQL: stmts[0]}, nil
}
