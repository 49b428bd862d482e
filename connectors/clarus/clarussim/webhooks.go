package clarussim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/simkit"
)

// Automation is a Clarus automation whose action posts the record to URL.
type Automation struct {
	ID            int64  `json:"id"`
	ResourceName  string `json:"resource_name"`
	Event         string `json:"event"`
	Enabled       bool   `json:"enabled"`
	URL           string `json:"url"`
	IntegrationID string `json:"integration_id,omitempty"`
}

// Trigger is the automation's resource_name "." event.
func (a Automation) Trigger() string { return a.ResourceName + "." + a.Event }

// DefaultAutomations are the six automations lockstep subscribes to, with
// ids 101-106 in the order of lockstep's default LOCKSTEP_CLARUS_AUTOMATION_IDS.
func DefaultAutomations(url string) []Automation {
	var out []Automation
	for i, t := range []string{TriggerGoodsOutCompleted, TriggerReceiptCompleted, TriggerAdjustmentPositive,
		TriggerAdjustmentNegative, TriggerStockHeld, TriggerStockReleased} {
		res, ev, _ := strings.Cut(t, ".")
		out = append(out, Automation{ID: int64(101 + i), ResourceName: res, Event: ev, Enabled: true, URL: url})
	}
	return out
}

// AddAutomation registers a; an id of 0 takes the next free one.
func (s *Sim) AddAutomation(a Automation) Automation {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.ID == 0 {
		a.ID = s.nextAutoID
	}
	s.nextAutoID = max(s.nextAutoID, a.ID+1)
	s.automations = append(s.automations, a)
	return a
}

// notify queues rec for every enabled automation of trigger. Callers hold
// s.mu, so webhooks are queued in the order of the ground truth.
func (s *Sim) notify(trigger string, rec any) {
	body, err := json.Marshal(envelope{Data: rec})
	if err != nil {
		panic(err) // the records are plain structs: cannot fail
	}
	for _, a := range s.automations {
		if a.Enabled && a.URL != "" && a.Trigger() == trigger {
			s.hooks.enqueue(a, body)
		}
	}
}

// WebhookStats counts deliveries.
type WebhookStats struct {
	Queued     int `json:"queued"`     // webhooks the automations fired
	Delivered  int `json:"delivered"`  // answered 2xx
	Dropped    int `json:"dropped"`    // never sent (fault)
	Duplicated int `json:"duplicated"` // sent twice (fault)
	Reordered  int `json:"reordered"`  // swapped with the one before (fault)
	Malformed  int `json:"malformed"`  // attempts sent with a corrupted body (fault)
	Retried    int `json:"retried"`    // attempts that failed and were scheduled again
	GaveUp     int `json:"gave_up"`    // deliveries abandoned after MaxAttempts
	Pending    int `json:"pending"`
}

type delivery struct {
	auto     Automation
	body     []byte
	attempts int
	due      time.Time
}

// deliverer sends webhooks at least once: a non-2xx answer or a transport
// error schedules another attempt, up to maxAttempts.
type deliverer struct {
	mu          sync.Mutex
	queue       []*delivery
	rng         *rand.Rand
	faults      Faults
	stats       WebhookStats
	client      *http.Client
	cfg         Config
	maxAttempts int
	backoff     []time.Duration
	wake        chan struct{}
}

func newDeliverer(cfg Config, seed uint64) *deliverer {
	return &deliverer{
		rng: rand.New(rand.NewPCG(seed, 0x400c)), client: &http.Client{Timeout: 10 * time.Second}, cfg: cfg, maxAttempts: 6,
		// The retry schedule is not documented; these are plausible.
		backoff: []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute},
		wake:    make(chan struct{}, 1),
	}
}

func (d *deliverer) setFaults(f Faults) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.faults = f
	if f.Seed != 0 {
		d.rng = rand.New(rand.NewPCG(f.Seed, 0x400c))
	}
}

func (d *deliverer) enqueue(a Automation, body []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stats.Queued++
	if d.rng.Float64() < d.faults.WebhookDropRate {
		d.stats.Dropped++
		return
	}
	copies := 1
	if d.rng.Float64() < d.faults.WebhookDuplicateRate {
		d.stats.Duplicated++
		copies = 2
	}
	for range copies {
		d.queue = append(d.queue, &delivery{auto: a, body: body})
		if n := len(d.queue); n > 1 && d.rng.Float64() < d.faults.WebhookReorderRate {
			d.stats.Reordered++
			d.queue[n-1], d.queue[n-2] = d.queue[n-2], d.queue[n-1]
		}
	}
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// deliver attempts every delivery due at now (all of them when all is
// set, ignoring retry schedules) and returns how many remain queued.
func (d *deliverer) deliver(ctx context.Context, now time.Time, all bool) int {
	d.mu.Lock()
	var due, later []*delivery
	for _, dl := range d.queue {
		if all || !dl.due.After(now) {
			due = append(due, dl)
		} else {
			later = append(later, dl)
		}
	}
	d.queue = later
	d.mu.Unlock()
	for _, dl := range due {
		if ctx.Err() != nil {
			d.requeue(dl)
			continue
		}
		ok := d.send(ctx, dl)
		d.mu.Lock()
		switch {
		case ok:
			d.stats.Delivered++
		case dl.attempts >= d.maxAttempts:
			d.stats.GaveUp++
		default:
			d.stats.Retried++
			dl.due = now.Add(d.backoff[min(dl.attempts, len(d.backoff))-1])
			d.queue = append(d.queue, dl)
		}
		d.mu.Unlock()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.queue)
}

func (d *deliverer) requeue(dl *delivery) {
	d.mu.Lock()
	d.queue = append(d.queue, dl)
	d.mu.Unlock()
}

func (d *deliverer) send(ctx context.Context, dl *delivery) bool {
	dl.attempts++
	body := dl.body
	d.mu.Lock()
	if d.rng.Float64() < d.faults.MalformedRate {
		d.stats.Malformed++
		body = simkit.Truncate(body)
	}
	d.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, dl.auto.URL, bytes.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ClarusWMS-Automations (simulator)")
	req.Header.Set("X-ClarusWMS-Domain", d.cfg.Domain)
	req.Header.Set("X-ClarusWMS-API-Domain", d.cfg.APIDomain)
	req.Header.Set("X-ClarusWMS-Subdomain", d.cfg.Subdomain)
	req.Header.Set("X-ClarusWMS-Automation-ID", strconv.FormatInt(dl.auto.ID, 10))
	if dl.auto.IntegrationID != "" {
		req.Header.Set("X-ClarusWMS-Integration-ID", dl.auto.IntegrationID)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 300
}

func (d *deliverer) snapshot() WebhookStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.stats
	st.Pending = len(d.queue)
	return st
}

// run delivers due webhooks as they are queued and as retries fall due.
func (d *deliverer) run(ctx context.Context, now func() time.Time) error {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-d.wake:
		case <-tick.C:
		}
		d.deliver(ctx, now(), false)
	}
}

// DeliverWebhooks sends every queued webhook now, retrying failures at once
// instead of on the retry schedule, until none is left or ctx ends. It is
// the synchronous delivery tests use.
func (s *Sim) DeliverWebhooks(ctx context.Context) WebhookStats {
	for s.hooks.deliver(ctx, s.clock(), true) > 0 && ctx.Err() == nil {
	}
	return s.hooks.snapshot()
}
