package clarussim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
)

// The control API under /_sim/: unauthenticated, for tests and the demo.

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

func (s *Sim) handleState(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.State())
}

// handleEvents applies one event ({"type": ...}) or several
// ({"events": [...]}, applied in order, stopping at the first refusal).
func (s *Sim) handleEvents(w http.ResponseWriter, r *http.Request) {
	body, ok := readControl(w, r)
	if !ok {
		return
	}
	var batch struct {
		Events []Event `json:"events"`
	}
	if err := json.Unmarshal(body, &batch); err != nil || len(batch.Events) == 0 {
		var one Event
		if err := strictJSON(body, &one); err != nil {
			writeError(w, http.StatusBadRequest, "want an event object or {\"events\": [...]}: "+err.Error())
			return
		}
		batch.Events = []Event{one}
	}
	results := []Result{}
	for i, ev := range batch.Events {
		res, err := s.Apply(ev)
		if err != nil {
			status := http.StatusUnprocessableEntity
			if !errors.As(err, new(*EventError)) {
				status = http.StatusInternalServerError
			}
			writeJSON(w, status, map[string]any{"error": fmt.Sprintf("event %d: %v", i, err), "applied": results})
			return
		}
		results = append(results, res)
	}
	writeJSON(w, http.StatusOK, map[string]any{"applied": results})
}

func (s *Sim) handleGetFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Faults())
}

func (s *Sim) handleSetFaults(w http.ResponseWriter, r *http.Request) {
	body, ok := readControl(w, r)
	if !ok {
		return
	}
	var f Faults
	if err := strictJSON(body, &f); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	for _, rate := range []float64{f.ErrorRate, f.WebhookDropRate, f.WebhookDuplicateRate, f.WebhookReorderRate, f.MalformedRate} {
		if rate < 0 || rate > 1 {
			writeError(w, http.StatusBadRequest, "rates are fractions between 0 and 1")
			return
		}
	}
	if f.RateLimitPerSecond < 0 || f.LatencyMS < 0 {
		writeError(w, http.StatusBadRequest, "rate_limit_per_second and latency_ms must not be negative")
		return
	}
	s.SetFaults(f)
	writeJSON(w, http.StatusOK, f)
}

func (s *Sim) handleScenario(w http.ResponseWriter, r *http.Request) {
	body, ok := readControl(w, r)
	if !ok {
		return
	}
	var sc Scenario
	if err := strictJSON(body, &sc); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	n, err := s.StartScenario(sc)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"scenario": sc, "generated": n})
}

// handleFlush delivers every queued webhook now (POST /_sim/webhooks/flush).
func (s *Sim) handleFlush(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.DeliverWebhooks(r.Context()))
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
		writeError(w, http.StatusBadRequest, "invalid JSON:API body")
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
		writeError(w, http.StatusUnprocessableEntity, "resource_name and event are required")
		return
	}
	a = s.AddAutomation(a)
	writeJSON(w, http.StatusCreated, map[string]any{"data": map[string]any{"id": strconv.FormatInt(a.ID, 10), "type": "automations", "attributes": a}})
}

func (s *Sim) handleListAutomations(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	list := slices.Clone(s.automations)
	s.mu.Unlock()
	data := []map[string]any{}
	for _, a := range list {
		data = append(data, map[string]any{"id": strconv.FormatInt(a.ID, 10), "type": "automations", "attributes": a})
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

func readControl(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, 4<<20)); err != nil {
		writeError(w, http.StatusBadRequest, "reading body: "+err.Error())
		return nil, false
	}
	return buf.Bytes(), true
}

// strictJSON refuses unknown fields, so a typo in a fault name fails loudly
// instead of silently injecting nothing.
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
