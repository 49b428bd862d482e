package simkit_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/simkit"
)

type event struct {
	Type string `json:"type"`
	SKU  string `json:"sku,omitempty"`
}

// post runs h on a POST with body and returns the recorded answer.
func post(h http.HandlerFunc, body string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequest(http.MethodPost, "/_sim/x", strings.NewReader(body)))
	return rec
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		status     int
		want       string // in the answer
	}{
		{"one object", `{"type":"receive","sku":"A"}`, 200, `"type":"receive"`},
		{"trailing white space", "{\"type\":\"receive\"}\n\t ", 200, `"type":"receive"`},
		{"unknown field", `{"type":"receive","skew":"A"}`, 400, `unknown field \"skew\"`},
		{"trailing JSON value", `{"type":"receive"}{"type":"hold"}`, 400, "trailing data after the JSON value"},
		{"trailing brace", `{"type":"receive"}}`, 400, "trailing data after the JSON value"},
		{"empty body", ``, 400, "empty body"},
		{"not JSON", `type=receive`, 400, "invalid character"},
		{"wrong type", `{"type":7}`, 400, "cannot unmarshal number"},
		{"over the limit", `{"type":"` + strings.Repeat("x", simkit.MaxControlBody) + `"}`, 413, "body over 4 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := post(func(w http.ResponseWriter, r *http.Request) {
				var ev event
				if simkit.Decode(w, r, &ev) {
					simkit.WriteJSON(w, http.StatusOK, ev)
				}
			}, tc.body)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("%d %s, want %d with %s", rec.Code, rec.Body, tc.status, tc.want)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("content type %q", ct)
			}
		})
	}
}

func TestDecodeBatch(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		status     int
		want       string // the events decoded, or the refusal
	}{
		{"one event", `{"type":"receive","sku":"A"}`, 200, "receive/A"},
		{"a batch in order", `{"events":[{"type":"receive","sku":"A"},{"type":"hold","sku":"B"}]}`, 200, "receive/A hold/B"},
		{"unknown field in a batch", `{"events":[{"type":"receive","skew":"A"}]}`, 400, `events: json: unknown field \"skew\"`},
		{"unknown field beside the batch", `{"events":[{"type":"receive"}],"dry_run":true}`, 400, `unknown field \"dry_run\"`},
		{"unknown field in one event", `{"type":"receive","skew":"A"}`, 400, `want an event object or {\"events\": [...]}: json: unknown field \"skew\"`},
		{"empty batch", `{"events":[]}`, 400, "the batch is empty"},
		{"null batch", `{"events":null}`, 400, "the batch is empty"},
		{"trailing JSON after a batch", `{"events":[{"type":"receive"}]} {"events":[]}`, 400, "trailing data"},
		{"an array", `[{"type":"receive"}]`, 400, "cannot unmarshal array"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := post(func(w http.ResponseWriter, r *http.Request) {
				evs, ok := simkit.DecodeBatch[event](w, r)
				if !ok {
					return
				}
				var got []string
				for _, ev := range evs {
					got = append(got, ev.Type+"/"+ev.SKU)
				}
				_, _ = io.WriteString(w, strings.Join(got, " "))
			}, tc.body)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("%d %s, want %d with %s", rec.Code, rec.Body, tc.status, tc.want)
			}
		})
	}
}

func TestCommandAndQuery(t *testing.T) {
	cmd := simkit.Command(func(ev event) (map[string]string, error) {
		if ev.SKU == "" {
			return nil, errors.New("sku is required")
		}
		return map[string]string{"applied": ev.SKU}, nil
	})
	for _, tc := range []struct {
		body   string
		status int
		want   string
	}{
		{`{"type":"receive","sku":"A"}`, 200, `{"applied":"A"}`},
		{`{"type":"receive"}`, 400, `{"error":"sku is required"}`},
		{`{"type":"receive","sku":"A","x":1}`, 400, `unknown field`},
	} {
		if rec := post(cmd, tc.body); rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("%s: %d %s", tc.body, rec.Code, rec.Body)
		}
	}
	rec := httptest.NewRecorder()
	simkit.Query(func() event { return event{Type: "state"} })(rec, httptest.NewRequest(http.MethodGet, "/_sim/state", nil))
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"type":"state"}` {
		t.Fatalf("query: %d %s", rec.Code, rec.Body)
	}
}

// Stamps never repeat and never go back, whatever the clock does.
func TestStamps(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	var s simkit.Stamps
	for i, tc := range []struct {
		now, want time.Time
	}{
		{t0.Add(1500 * time.Microsecond), t0.Add(time.Millisecond)}, // truncated to the millisecond
		{t0.Add(time.Millisecond), t0.Add(2 * time.Millisecond)},    // frozen clock: a millisecond on
		{t0, t0.Add(3 * time.Millisecond)},                          // clock stepped back: still on
		{t0.Add(time.Second), t0.Add(time.Second)},                  // clock ahead: the clock
		{t0.Add(time.Second).In(time.FixedZone("CET", 3600)), t0.Add(time.Second + time.Millisecond)},
	} {
		got := s.Next(tc.now)
		if !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Fatalf("stamp %d: %v, want %v", i, got, tc.want)
		}
	}
}

// Serve answers on the listener and returns nil once its context ends.
func TestServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- simkit.Serve(ctx, ln, simkit.Query(func() string { return "up" }))
	}()
	// The listener is bound before Serve starts, so no wait is needed.
	resp, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != `"up"` {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}
