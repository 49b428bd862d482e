package clarus_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/clarus"
	"github.com/lockstep-dev/lockstep/connectors/clarus/clarussim"
)

func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	e := newSweepEnv(t, clarussim.Config{TokenTTL: 100 * time.Second}, nil)
	e.receive(3)
	c := clarus.NewClient(e.cfg, clarus.Options{Clock: e.clock})
	sweep := func(wantTokens int) {
		t.Helper()
		if _, err := c.StockBalances(context.Background(), clarus.BalanceQuery{First: 10}); err != nil {
			t.Fatal(err)
		}
		if n := e.api.count("/oauth/token", 200); n != wantTokens {
			t.Fatalf("%d tokens requested, want %d", n, wantTokens)
		}
	}
	sweep(1)
	e.clock.Advance(50 * time.Second)
	sweep(1) // still fresh: reused
	e.clock.Advance(45 * time.Second)
	sweep(2) // 95s of 100: inside the last tenth, refreshed before it expires
	e.clock.Advance(500 * time.Second)
	sweep(3) // long expired: refreshed before the call, not after a 401
	if n := e.api.count("/graphql", http.StatusUnauthorized); n != 0 {
		t.Fatalf("%d graphql calls refused: the token was not refreshed ahead", n)
	}
}

func TestTokenRefreshedOnceOn401(t *testing.T) {
	e := newSweepEnv(t, clarussim.Config{TokenTTL: 100 * time.Second}, nil)
	e.receive(3)
	lagging := newClock() // lockstep's clock stays behind Clarus's: its token looks fresh to it
	c := clarus.NewClient(e.cfg, clarus.Options{Clock: lagging})
	ctx := context.Background()
	if _, err := c.StockBalances(ctx, clarus.BalanceQuery{First: 10}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(150 * time.Second) // the server expires the token
	lagging.Advance(time.Minute)       // lockstep is due a sweep, and thinks its token has 40s left
	if _, err := c.StockBalances(ctx, clarus.BalanceQuery{First: 10}); err != nil {
		t.Fatal(err)
	}
	if n401, tokens := e.api.count("/graphql", http.StatusUnauthorized), e.api.count("/oauth/token", 200); n401 != 1 || tokens != 2 {
		t.Fatalf("%d 401s and %d tokens, want one 401 answered by one refresh", n401, tokens)
	}
}

func TestClientGivesUpAfterSecond401(t *testing.T) {
	log := &apiLog{}
	srv := httptest.NewServer(log.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"access_token":"t","token_type":"Bearer","expires_in":7200}`))
			return
		}
		http.Error(w, `{"error":"The access token is invalid"}`, http.StatusUnauthorized)
	})))
	t.Cleanup(srv.Close)
	c := clarus.NewClient(testConfig(srv.URL), clarus.Options{Clock: newClock()})
	_, err := c.StockBalances(context.Background(), clarus.BalanceQuery{First: 10})
	var apiErr *clarus.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized {
		t.Fatalf("got %v, want a 401 APIError", err)
	}
	if g, tok := log.count("/graphql", 0), log.count("/oauth/token", 0); g != 2 || tok != 2 {
		t.Fatalf("%d graphql calls and %d token requests, want 2 and 2", g, tok)
	}
}

func TestClientBadCredentials(t *testing.T) {
	e := newSweepEnv(t, clarussim.Config{}, nil)
	e.cfg.ClientSecret = "wrong"
	_, err := clarus.NewClient(e.cfg, clarus.Options{Clock: e.clock}).StockBalances(context.Background(), clarus.BalanceQuery{First: 1})
	var apiErr *clarus.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized || apiErr.Body != "invalid_client" {
		t.Fatalf("got %v", err)
	}
}

func TestSweepHonoursRetryAfter(t *testing.T) {
	e := newSweepEnv(t, clarussim.Config{}, nil)
	e.sim.SetFaults(clarussim.Faults{RateLimitPerSecond: 1})
	e.receive(250)
	if _, err := e.sweeper(e.clock).Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	throttled := e.api.count("/graphql", http.StatusTooManyRequests) + e.api.count("/oauth/token", http.StatusTooManyRequests)
	slept := e.clock.Slept()
	if throttled == 0 || len(slept) != throttled {
		t.Fatalf("%d answers throttled, %d waits %v", throttled, len(slept), slept)
	}
	for _, d := range slept {
		if d != time.Second {
			t.Fatalf("waited %v, Retry-After said 1s", d)
		}
	}
	e.matchTruth(e.snapshots())
}

func TestSweepRetriesServerErrors(t *testing.T) {
	e := newSweepEnv(t, clarussim.Config{}, nil)
	e.sim.SetFaults(clarussim.Faults{Seed: 3, ErrorRate: 0.3, MalformedRate: 0.1})
	e.receive(250)
	e.cfg.PageSize = 10 // 25 pages: enough calls for the faults to hit
	if _, err := e.sweeper(e.clock).Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if e.api.count("/graphql", http.StatusInternalServerError)+e.api.count("/graphql", http.StatusServiceUnavailable) == 0 {
		t.Fatal("no error injected: the test proves nothing")
	}
	e.matchTruth(e.snapshots())
}

// stopClock cancels the run after a number of waits.
type stopClock struct {
	*fakeClock
	cancel func()
	left   int
}

func (c *stopClock) After(d time.Duration) <-chan time.Time {
	if c.left--; c.left < 0 {
		c.cancel()
		return make(chan time.Time) // never fires: the cancelled ctx ends the wait
	}
	return c.fakeClock.After(d)
}

func TestRunSweepsOnSchedule(t *testing.T) {
	e := newSweepEnv(t, clarussim.Config{}, nil)
	e.receive(5)
	ctx, cancel := context.WithCancel(context.Background())
	// The first sweep is due at once and does not wait on the clock; the
	// two waits for the next ones do, and the third wait stops the run.
	clock := &stopClock{fakeClock: e.clock, cancel: cancel, left: 2}
	if err := e.sweeper(clock).Run(ctx); err != nil {
		t.Fatal(err)
	}
	curs := e.cursors()
	if len(curs) != 3 {
		t.Fatalf("%d sweeps, want 3", len(curs))
	}
	for i := 1; i < len(curs); i++ {
		if gap := curs[i].LastStart.Sub(curs[i-1].LastStart); gap != e.cfg.SweepInterval {
			t.Fatalf("sweeps %v apart, want %v", gap, e.cfg.SweepInterval)
		}
	}
}
