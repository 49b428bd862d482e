package clarussim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/clarus/clarussim"
	"github.com/lockstep-dev/lockstep/connectors/clock"
)

type env struct {
	t     *testing.T
	sim   *clarussim.Sim
	srv   *httptest.Server
	clock *clock.Fake
}

func newEnv(t *testing.T, cfg clarussim.Config) *env {
	t.Helper()
	if cfg.ClientID == "" {
		cfg.ClientID, cfg.ClientSecret, cfg.Subdomain = "lockstep", "secret", "acme"
	}
	c := clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	sim, err := clarussim.New(cfg, clarussim.WithClock(c.Now))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &env{t: t, sim: sim, srv: srv, clock: c}
}

// do sends a request and returns the status, headers and body.
func (e *env) do(method, path string, body string, headers map[string]string) (int, http.Header, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func (e *env) token() string {
	e.t.Helper()
	status, _, body := e.do(http.MethodPost, "/oauth/token",
		url.Values{"grant_type": {"client_credentials"}, "client_id": {"lockstep"}, "client_secret": {"secret"}}.Encode(),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if status != 200 || json.Unmarshal([]byte(body), &tok) != nil || tok.AccessToken == "" {
		e.t.Fatalf("token: %d %s", status, body)
	}
	return tok.AccessToken
}

// gql posts a GraphQL request with a fresh token and decodes the answer.
func (e *env) gql(query string, vars map[string]any) (int, map[string]any) {
	e.t.Helper()
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	status, _, body := e.do(http.MethodPost, "/graphql", string(b), map[string]string{
		"Authorization": "Bearer " + e.token(), "X-Clarus-Subdomain": "acme", "Content-Type": "application/json"})
	var out map[string]any
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		e.t.Fatalf("graphql answer %d is not JSON: %s", status, body)
	}
	return status, out
}

func (e *env) apply(evs ...clarussim.Event) {
	e.t.Helper()
	for _, ev := range evs {
		if _, err := e.sim.Apply(ev); err != nil {
			e.t.Fatal(err)
		}
	}
}

// path walks decoded JSON: keys for objects, ints for arrays.
func path(v any, steps ...any) any {
	for _, s := range steps {
		switch k := s.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

func firstError(ans map[string]any) string {
	msg, _ := path(ans, "errors", 0, "message").(string)
	return msg
}
