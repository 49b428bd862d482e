package clarus

import (
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/clock"
)

const samplePage = `{"data":{"stock_balances":{"all":{"edges":[
 {"cursor":"YQ","node":{"product":{"code":"SKU-1"},"warehouse":{"code":"WH1"},"available":5,"allocated":2,"on_hand":9,"held":2,"updated_at":"2026-03-02T09:00:00.001Z"}}],
 "pageInfo":{"hasNextPage":true,"endCursor":"YQ"}}}},"extensions":{"read_at":"2026-03-02T09:00:01.5Z"}}`

func TestDecodeBalancePage(t *testing.T) {
	p, err := decodeBalancePage([]byte(samplePage), "")
	if err != nil {
		t.Fatal(err)
	}
	b := p.Balances[0]
	if len(p.Balances) != 1 || b.SKU != "SKU-1" || b.Warehouse != "WH1" || b.OnHand != 9 || b.Held != 2 || b.Allocated != 2 ||
		b.Available != 5 || !p.HasNextPage || p.EndCursor != "YQ" || !p.ReadAt.Equal(time.Date(2026, 3, 2, 9, 0, 1, 5e8, time.UTC)) {
		t.Fatalf("page %+v", p)
	}
	// Without the read_at extension, the Date header dates the page.
	p, err = decodeBalancePage([]byte(`{"data":{"stock_balances":{"all":{"edges":[],"pageInfo":{"hasNextPage":false,"endCursor":null}}}}}`),
		"Mon, 02 Mar 2026 09:00:07 GMT")
	if err != nil || !p.ReadAt.Equal(time.Date(2026, 3, 2, 9, 0, 7, 0, time.UTC)) || p.HasNextPage {
		t.Fatalf("page %+v %v", p, err)
	}
	for name, body := range map[string]string{
		"errors":              `{"errors":[{"message":"Field 'x' doesn't exist on type 'StockBalance'"}]}`,
		"truncated":           samplePage[:100],
		"no data":             `{"data":null}`,
		"missing on_hand":     `{"data":{"stock_balances":{"all":{"edges":[{"node":{"product":{"code":"a"},"warehouse":{"code":"b"},"held":0,"allocated":0}}]}}}}`,
		"next without cursor": `{"data":{"stock_balances":{"all":{"edges":[],"pageInfo":{"hasNextPage":true}}}}}`,
		"bad code":            `{"data":{"stock_balances":{"all":{"edges":[{"node":{"product":{"code":"a@b"},"warehouse":{"code":"b"},"on_hand":1,"held":0,"allocated":0}}]}}}}`,
	} {
		if _, err := decodeBalancePage([]byte(body), ""); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	var ge *GraphQLError
	if _, err := decodeBalancePage([]byte(`{"errors":[{"message":"boom"}]}`), ""); !errors.As(err, &ge) {
		t.Fatalf("GraphQL errors: %v", err)
	}
	if _, err := decodeBalancePage([]byte(`{"data":`), ""); !errors.Is(err, errMalformedResponse) {
		t.Fatalf("a cut body must be retryable: %v", err)
	}
}

func FuzzDecodeBalancePage(f *testing.F) {
	f.Add([]byte(samplePage), "")
	f.Add([]byte(`{"data":{"stock_balances":{"all":{"edges":[],"pageInfo":{}}}}}`), "Mon, 02 Mar 2026 09:00:07 GMT")
	f.Fuzz(func(t *testing.T, body []byte, date string) {
		p, err := decodeBalancePage(body, date)
		if err != nil {
			return
		}
		if p.HasNextPage && p.EndCursor == "" {
			t.Fatal("a next page without a cursor would loop")
		}
		for _, b := range p.Balances {
			if checkCode("sku", b.SKU) != nil || checkCode("warehouse", b.Warehouse) != nil {
				t.Fatalf("unusable balance %+v", b)
			}
		}
	})
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	c := NewClient(Config{RequestTimeout: time.Second}, Options{Clock: clock.NewFake(now)})
	for v, want := range map[string]time.Duration{
		"":                              time.Second,
		"3":                             3 * time.Second,
		"100000":                        maxWait,
		"Mon, 02 Mar 2026 09:00:30 GMT": 30 * time.Second,
		"Mon, 02 Mar 2026 08:00:00 GMT": 0,
		"soon":                          time.Second,
	} {
		h := http.Header{}
		if v != "" {
			h.Set("Retry-After", v)
		}
		if got := c.retryAfter(h, time.Second); got != want {
			t.Errorf("Retry-After %q: %v, want %v", v, got, want)
		}
	}
}

// TestQueryFollowsSchemaFile keeps the sweep's document and clarus.graphql
// in step: every field the document selects on a balance is declared.
func TestQueryFollowsSchemaFile(t *testing.T) {
	schema, err := os.ReadFile("clarus.graphql")
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(string(schema), "type StockBalance {")
	block := string(schema)[start : start+strings.Index(string(schema)[start:], "}")]
	node := stockBalancesQuery[strings.Index(stockBalancesQuery, "node {")+len("node {"):]
	node = node[:strings.Index(node, "pageInfo")]
	for _, f := range strings.Fields(strings.NewReplacer("{", " ", "}", " ", "code", "").Replace(node)) {
		if !strings.Contains(block, "\n  "+f+":") {
			t.Errorf("the sweep selects %q, which clarus.graphql does not declare on StockBalance", f)
		}
	}
	for _, op := range []string{"gt: ISO8601DateTime", "updated_at: DatetimeFilter"} {
		if !strings.Contains(string(schema), op) {
			t.Errorf("clarus.graphql lacks %q, which the incremental sweep uses", op)
		}
	}
}
