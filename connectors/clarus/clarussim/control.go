package clarussim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/lockstep-dev/lockstep/connectors/simkit"
)

// The control API under /_sim/: unauthenticated, for tests and the demo.
// simkit decodes and answers it; what is Clarus's own is here.

// Orders is the goods-out orders of State alone: cheap enough to poll
// while the movement log grows.
func (s *Sim) Orders() []Order {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.orderViews()
}

// State returns the ground truth.
func (s *Sim) State() State {
	s.mu.Lock()
	st := s.st.snapshot()
	st.Subdomain = s.cfg.Subdomain
	st.Automations = slices.Clone(s.automations)
	s.mu.Unlock()
	st.Webhooks = s.hooks.snapshot()
	return st
}

// handleEvents applies one event ({"type": ...}) or several
// ({"events": [...]}, applied in order, stopping at the first refusal).
func (s *Sim) handleEvents(w http.ResponseWriter, r *http.Request) {
	events, ok := simkit.DecodeBatch[Event](w, r)
	if !ok {
		return
	}
	results := []Result{}
	for i, ev := range events {
		res, err := s.Apply(ev)
		if err != nil {
			status := http.StatusUnprocessableEntity
			if !errors.As(err, new(*EventError)) {
				status = http.StatusInternalServerError
			}
			simkit.WriteJSON(w, status, map[string]any{"error": fmt.Sprintf("event %d: %v", i, err), "applied": results})
			return
		}
		results = append(results, res)
	}
	simkit.WriteJSON(w, http.StatusOK, map[string]any{"applied": results})
}

// Faults are the failures the simulator injects: simkit's HTTP faults on
// the API (answered in Clarus's {"error": ...} body), and webhook faults,
// all drawn from generators seeded by Seed (or Config.Seed), so a run with
// the same calls fails the same way. The fields are flat, not an embedded
// simkit.Faults, because a literal cannot set an embedded struct's fields
// and callers write Faults{ErrorRate: ...}.
type Faults struct {
	Seed uint64 `json:"seed,omitempty"`
	// ErrorRate, UnavailableRate and ThrottleRate are the fractions of API
	// requests answered 500, 503 and 429; RateLimitPerSecond caps requests
	// per clock second (0: no limit); RetryAfterSeconds, LatencyMS,
	// TimeoutAfterWriteRate and HangMS are as in simkit.Faults.
	ErrorRate             float64 `json:"error_rate"`
	UnavailableRate       float64 `json:"unavailable_rate"`
	ThrottleRate          float64 `json:"throttle_rate"`
	RateLimitPerSecond    int     `json:"rate_limit_per_second"`
	RetryAfterSeconds     int     `json:"retry_after_seconds"`
	LatencyMS             int     `json:"latency_ms"`
	TimeoutAfterWriteRate float64 `json:"timeout_after_write_rate"`
	HangMS                int     `json:"hang_ms"`
	// Webhook faults: dropped (never sent), duplicated (sent twice),
	// reordered (sent after the next one).
	WebhookDropRate      float64 `json:"webhook_drop_rate"`
	WebhookDuplicateRate float64 `json:"webhook_duplicate_rate"`
	WebhookReorderRate   float64 `json:"webhook_reorder_rate"`
	// MalformedRate is the fraction of webhook attempts and API answers
	// whose body is cut short.
	MalformedRate float64 `json:"malformed_payload_rate"`
}

// api is the part of f that simkit injects into API calls.
func (f Faults) api() simkit.Faults {
	return simkit.Faults{Seed: f.Seed, ErrorRate: f.ErrorRate, UnavailableRate: f.UnavailableRate, ThrottleRate: f.ThrottleRate,
		RateLimitPerSecond: f.RateLimitPerSecond, RetryAfterSeconds: f.RetryAfterSeconds, LatencyMS: f.LatencyMS,
		TimeoutAfterWriteRate: f.TimeoutAfterWriteRate, HangMS: f.HangMS, MalformedRate: f.MalformedRate}
}

// SetFaults replaces the injected faults; a non-zero Seed restarts the draws.
func (s *Sim) SetFaults(f Faults) {
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
	s.inject.Set(f.api())
	s.hooks.setFaults(f)
}

// Faults returns the injected faults.
func (s *Sim) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// setFaults is POST /_sim/faults: the faults are checked, then set.
func (s *Sim) setFaults(f Faults) (Faults, error) {
	if err := f.api().Validate(); err != nil {
		return f, err
	}
	if err := simkit.Fractions(f.WebhookDropRate, f.WebhookDuplicateRate, f.WebhookReorderRate); err != nil {
		return f, err
	}
	s.SetFaults(f)
	return f, nil
}

// scenario is POST /_sim/scenario.
func (s *Sim) scenario(sc Scenario) (map[string]any, error) {
	n, err := s.StartScenario(sc)
	return map[string]any{"scenario": sc, "generated": n}, err
}

// handleFlush delivers every queued webhook now (POST /_sim/webhooks/flush).
func (s *Sim) handleFlush(w http.ResponseWriter, r *http.Request) {
	simkit.WriteJSON(w, http.StatusOK, s.DeliverWebhooks(r.Context()))
}

// handleCreateAutomation is POST /api/automations in the JSON:API envelope.
// The webhook action (destination_type "webhook" with a url) is assumed:
// the documentation's only example action is an email.
func (s *Sim) handleCreateAutomation(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Data struct {
			Attributes struct {
				ResourceName   string `json:"resource_name"`
				Event          string `json:"event"`
				Enabled        *bool  `json:"enabled"`
				IntegrationID  string `json:"integration_id"`
				ActionsChanges []struct {
					Type       string `json:"type"`
					Attributes struct {
						DestinationType string `json:"destination_type"`
						URL             string `json:"url"`
					} `json:"attributes"`
				} `json:"actions_changes"`
			} `json:"attributes"`
		} `json:"data"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
		simkit.WriteError(w, http.StatusBadRequest, "invalid JSON:API body")
		return
	}
	at := req.Data.Attributes
	a := Automation{ResourceName: at.ResourceName, Event: at.Event, Enabled: at.Enabled == nil || *at.Enabled, IntegrationID: at.IntegrationID}
	for _, c := range at.ActionsChanges {
		if c.Type == "ADD" && c.Attributes.DestinationType == "webhook" {
			a.URL = c.Attributes.URL
		}
	}
	if a.ResourceName == "" || a.Event == "" {
		simkit.WriteError(w, http.StatusUnprocessableEntity, "resource_name and event are required")
		return
	}
	a = s.AddAutomation(a)
	simkit.WriteJSON(w, http.StatusCreated, map[string]any{"data": map[string]any{"id": strconv.FormatInt(a.ID, 10), "type": "automations", "attributes": a}})
}

func (s *Sim) handleListAutomations(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	list := slices.Clone(s.automations)
	s.mu.Unlock()
	data := []map[string]any{}
	for _, a := range list {
		data = append(data, map[string]any{"id": strconv.FormatInt(a.ID, 10), "type": "automations", "attributes": a})
	}
	simkit.WriteJSON(w, http.StatusOK, map[string]any{"data": data})
}
