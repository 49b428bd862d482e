package clarus

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/clock"
)

const samplePage = `{"data":{"stock_balances":{"all":{"edges":[
 {"node":{"available":5,"allocated":2.0,"product":{"id":"3","code":"SKU-1"},"account":{"id":"1"},"warehouse":{"id":"1"}}}],
 "pageInfo":{"hasNextPage":true,"endCursor":"YQ"}}}},"extensions":{"read_at":"2026-03-02T09:00:01.5Z"}}`

func decodeBalancePage(body []byte, date string) (BalancePage, error) {
	var p BalancePage
	readAt, err := decodeEnvelope(body, date, func(data []byte) error {
		var err error
		p, err = decodeBalances(data)
		return err
	})
	p.ReadAt = readAt
	return p, err
}

func TestDecodeBalancePage(t *testing.T) {
	p, err := decodeBalancePage([]byte(samplePage), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Balances) != 1 || p.Balances[0] != (Balance{ProductID: "3", ProductCode: "SKU-1", WarehouseID: "1", AccountID: "1", Available: 5, Allocated: 2}) ||
		!p.HasNextPage || p.EndCursor != "YQ" || !p.ReadAt.Equal(time.Date(2026, 3, 2, 9, 0, 1, 5e8, time.UTC)) {
		t.Fatalf("page %+v", p)
	}
	// Without the read_at extension, the Date header dates the page.
	p, err = decodeBalancePage([]byte(`{"data":{"stock_balances":{"all":{"edges":[],"pageInfo":{"hasNextPage":false,"endCursor":null}}}}}`),
		"Mon, 02 Mar 2026 09:00:07 GMT")
	if err != nil || !p.ReadAt.Equal(time.Date(2026, 3, 2, 9, 0, 7, 0, time.UTC)) || p.HasNextPage {
		t.Fatalf("page %+v %v", p, err)
	}
	node := func(n string) string {
		return `{"data":{"stock_balances":{"all":{"edges":[{"node":` + n + `}],"pageInfo":{"hasNextPage":false}}}}}`
	}
	for name, body := range map[string]string{
		"errors":              `{"errors":[{"message":"Cannot query field \"on_hand\" on type \"StockBalance\"."}]}`,
		"truncated":           samplePage[:100],
		"no data":             `{"data":null}`,
		"missing allocated":   node(`{"available":1,"product":{"id":"1","code":"a"},"warehouse":{"id":"1"}}`),
		"fractional":          node(`{"available":1.5,"allocated":0,"product":{"id":"1","code":"a"},"warehouse":{"id":"1"}}`),
		"quantity as string":  node(`{"available":"1","allocated":0,"product":{"id":"1","code":"a"},"warehouse":{"id":"1"}}`),
		"no warehouse id":     node(`{"available":1,"allocated":0,"product":{"id":"1","code":"a"},"warehouse":{}}`),
		"no product code":     node(`{"available":1,"allocated":0,"product":{"id":"1"},"warehouse":{"id":"1"}}`),
		"negative allocated":  node(`{"available":1,"allocated":-1,"product":{"id":"1","code":"a"},"warehouse":{"id":"1"}}`),
		"bad id":              node(`{"available":1,"allocated":0,"product":{"id":"1/2","code":"a"},"warehouse":{"id":"1"}}`),
		"next without cursor": `{"data":{"stock_balances":{"all":{"edges":[],"pageInfo":{"hasNextPage":true}}}}}`,
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
			if b.ProductID == "" || b.WarehouseID == "" || b.Allocated < 0 || b.Allocated > maxQuantity {
				t.Fatalf("unusable balance %+v", b)
			}
		}
	})
}

func FuzzDecodeStocks(f *testing.F) {
	f.Add([]byte(`{"stocks":{"all":{"edges":[{"node":{"id":"7","quantity":3,"status":"held","product":{"id":"1","code":"A"}}}],"pageInfo":{"hasNextPage":false}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := decodeStocks(data)
		if err != nil {
			return
		}
		if p.HasNextPage && p.EndCursor == "" {
			t.Fatal("a next page without a cursor would loop")
		}
		for _, r := range p.Records {
			if r.Quantity < 0 || r.Quantity > maxQuantity {
				t.Fatalf("unusable stock record %+v", r)
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
