package clarus

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/schemas"
)

// WebhookPath is where Register mounts the receiver; Clarus automations
// post to it with the endpoint's token as the last segment. With a token
// header configured, /webhooks/clarus serves too.
const WebhookPath = "/webhooks/clarus/{token}"

// Webhook headers Clarus sends (there is no signature to check), all five
// checked against the configuration.
const (
	HeaderDomain        = "X-ClarusWMS-Domain"
	HeaderAPIDomain     = "X-ClarusWMS-API-Domain"
	HeaderSubdomain     = "X-ClarusWMS-Subdomain"
	HeaderAutomationID  = "X-ClarusWMS-Automation-ID"
	HeaderIntegrationID = "X-ClarusWMS-Integration-ID"
)

// Receiver turns Clarus webhooks into stock movements on
// clarus.stock-movements. A completed goods out (goods_out.completed) is
// read back from Clarus: its shipments (GraphQL) give one pick per
// shipment line, dated when the shipment left, and one event per shipment
// on clarus.shipments. A completed goods-in receipt
// (goods_in_receipt.completed) gives a receipt movement per line and, when
// Config.ReceiptEvents is set, a receipt event on clarus.receipts (the
// same event the receipt source produces for it: receiptevents.go). It
// answers 2xx only once Kafka has acknowledged
// every record of the webhook, so a webhook Clarus saw accepted is never
// lost; a redelivery produces the same event ids, which consumers drop.
type Receiver struct {
	kopts     []kgo.Opt
	mu        sync.RWMutex // read-held by each request producing with cl
	cl        *kgo.Client  // set while Run runs; nil answers 503
	api       *Client      // one-shot: Clarus redelivers, the receiver never waits on retries
	ships     shipmentMapper
	serde     *schemas.Serde
	topic     string
	shipTopic string
	// receiptTopic is where receipt events go; "" when the receiver makes
	// none (Config.ReceiptEvents off).
	receiptTopic string
	token        [32]byte // SHA-256 of the token: compared in constant time at a fixed length
	header       string
	subdomain    string
	domain       string
	apiDomain    string
	integration  string
	automations  map[string]Trigger
	maxBytes     int64
	decoder      *Decoder
	o            Options
}

// NewReceiver validates cfg and returns a receiver that reads shipments
// through api and will produce with a client built from kopts (seed
// brokers, TLS, SASL) once Run runs. cfg must be resolved (Config.Resolve).
func NewReceiver(cfg Config, api *Client, serde *schemas.Serde, o Options, kopts ...kgo.Opt) (*Receiver, error) {
	if cfg.WebhookToken == "" {
		return nil, fmt.Errorf("clarus: receiver: no webhook token (resolve the configuration first)")
	}
	if api == nil || serde == nil {
		return nil, errors.New("clarus: receiver: needs an API client and a serde")
	}
	o = o.withDefaults(cfg)
	maxBytes := cfg.WebhookMaxBytes
	if maxBytes <= 0 {
		maxBytes = 1 << 20
	}
	// Idempotent acks=all producing is franz-go's default; the delivery
	// timeout keeps a stalled broker from holding Clarus's request forever.
	kopts = append([]kgo.Opt{kgo.RecordDeliveryTimeout(cfg.RequestTimeout)}, kopts...)
	receiptTopic := ""
	if cfg.ReceiptEvents {
		receiptTopic = o.TopicPrefix + schemas.TopicReceipts
	}
	return &Receiver{receiptTopic: receiptTopic,
		kopts: kopts, api: api.oneShot(), ships: newShipmentMapper(cfg), serde: serde,
		topic: o.TopicPrefix + schemas.TopicStockMovements, shipTopic: o.TopicPrefix + schemas.TopicShipments,
		token: sha256.Sum256([]byte(cfg.WebhookToken)), header: cfg.WebhookTokenHeader,
		subdomain: cfg.Subdomain, domain: cfg.domain(), apiDomain: strings.ToLower(cfg.APIDomain), integration: cfg.IntegrationID,
		automations: cfg.automations(), maxBytes: maxBytes, decoder: NewDecoder(cfg), o: o,
	}, nil
}

// Run opens the Kafka client and accepts webhooks until ctx ends; before
// and after, the receiver answers 503 so Clarus retries. It then waits for
// the requests in flight and closes the client.
func (r *Receiver) Run(ctx context.Context) error {
	cl, err := kgo.NewClient(r.kopts...)
	if err != nil {
		return fmt.Errorf("clarus: receiver: kafka client: %w", err)
	}
	defer cl.Close()
	r.mu.Lock()
	r.cl = cl
	r.mu.Unlock()
	r.o.setReady(true)
	<-ctx.Done()
	r.o.setReady(false)
	r.mu.Lock() // waits for the requests in flight
	r.cl = nil
	r.mu.Unlock()
	return nil
}

// Register mounts the receiver on mux.
func (r *Receiver) Register(mux *http.ServeMux) {
	mux.Handle(WebhookPath, r)
	if r.header != "" {
		mux.Handle("/webhooks/clarus", r)
	}
}

// ServeHTTP implements http.Handler. Every refusal is a 4xx with a short
// reason and produces nothing.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	trigger := Trigger("unknown")
	status, reason := r.serve(w, req, &trigger)
	r.o.Metrics.webhooks.WithLabelValues(string(trigger), strconv.Itoa(status)).Inc()
	if status >= 300 {
		r.o.Logger.Warn("clarus webhook refused", "status", status, "reason", reason,
			"automation_id", req.Header.Get(HeaderAutomationID), "remote", req.RemoteAddr)
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "5")
		}
		if status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", http.MethodPost)
		}
		http.Error(w, reason, status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintln(w, reason)
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request, trigger *Trigger) (int, string) {
	if req.Method != http.MethodPost {
		return http.StatusMethodNotAllowed, "method not allowed: use POST"
	}
	// The token first: nothing else about the endpoint is revealed to a
	// caller without it, and the same answer covers missing and wrong.
	tok := req.PathValue("token")
	if r.header != "" {
		tok = req.Header.Get(r.header)
	}
	sum := sha256.Sum256([]byte(tok))
	if tok == "" || subtle.ConstantTimeCompare(sum[:], r.token[:]) != 1 {
		return http.StatusUnauthorized, "invalid webhook token"
	}
	if req.ContentLength > r.maxBytes {
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("body exceeds %d bytes", r.maxBytes)
	}
	if status, reason := contentType(req.Header); status != 0 {
		return status, reason
	}
	if status, reason := r.checkHeaders(req.Header); status != 0 {
		return status, reason
	}
	auto := req.Header.Get(HeaderAutomationID)
	t, ok := r.automations[auto]
	if !ok {
		return http.StatusForbidden, "automation " + strconv.Quote(auto) + " is not configured"
	}
	*trigger = t
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, r.maxBytes))
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			return http.StatusRequestEntityTooLarge, fmt.Sprintf("body exceeds %d bytes", r.maxBytes)
		}
		return http.StatusBadRequest, "reading body: " + err.Error()
	}
	now := r.o.Clock.Now().UTC()
	x, err := r.decoder.decode(t, body, now)
	switch {
	case errors.Is(err, ErrMalformed):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge, err.Error()
	case err != nil:
		return http.StatusUnprocessableEntity, err.Error()
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	cl := r.cl
	if cl == nil {
		return http.StatusServiceUnavailable, "not accepting webhooks yet; retry later"
	}
	out := output{movements: x.out}
	if x.completed != nil {
		if status, reason := r.shipments(req.Context(), x.completed, now, &out); status != 0 {
			return status, reason
		}
	}
	receipts := r.receiptTopic != "" && x.received != nil
	if receipts {
		if ev, ok := x.received.event(); ok {
			out.receipts = append(out.receipts, ev)
		} else {
			r.o.Logger.Warn("clarus webhook: a receipt without actual_date_of_receipt; its event is left to the receipt source", "receipt_id", x.received.ID)
		}
	}
	if err := r.produce(req.Context(), cl, t, auto, out, now); err != nil {
		r.o.Logger.Error("clarus webhook not stored", "err", err, "trigger", t)
		return http.StatusServiceUnavailable, "could not store the webhook; retry later"
	}
	switch {
	case x.completed != nil:
		return http.StatusOK, fmt.Sprintf(`{"movements":%d,"shipments":%d}`, len(out.movements), len(out.shipments))
	case receipts:
		return http.StatusOK, fmt.Sprintf(`{"movements":%d,"receipts":%d}`, len(out.movements), len(out.receipts))
	}
	return http.StatusOK, fmt.Sprintf(`{"movements":%d}`, len(out.movements))
}

// contentType answers 415 unless the body is declared JSON in UTF-8 (JSON's
// only encoding; a charset parameter, if any, must say so).
func contentType(h http.Header) (int, string) {
	v := h.Values("Content-Type")
	if len(v) != 1 {
		return http.StatusUnsupportedMediaType, "want one Content-Type: application/json"
	}
	mt, params, err := mime.ParseMediaType(v[0])
	if err != nil || (mt != "application/json" && !(strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))) {
		return http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q: want application/json", v[0])
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type charset %q: want utf-8", cs)
	}
	return 0, ""
}

// checkHeaders checks the five X-ClarusWMS headers against the
// configuration: a missing or repeated one is 400, a wrong one 403. The
// automation id is checked for presence here, and for being configured by
// the caller.
func (r *Receiver) checkHeaders(h http.Header) (int, string) {
	for _, c := range []struct {
		name, want string
		fold       bool // host names compare without case
	}{
		{HeaderDomain, r.domain, true},
		{HeaderAPIDomain, r.apiDomain, true},
		{HeaderSubdomain, r.subdomain, false},
		{HeaderAutomationID, "", false},
	} {
		v := h.Values(c.name)
		switch {
		case len(v) == 0 || v[0] == "":
			return http.StatusBadRequest, "missing header " + c.name
		case len(v) > 1:
			return http.StatusBadRequest, fmt.Sprintf("header %s sent %d times", c.name, len(v))
		case c.want == "":
		case c.fold && !strings.EqualFold(v[0], c.want), !c.fold && v[0] != c.want:
			return http.StatusForbidden, fmt.Sprintf("%s %q does not match the configured %q", c.name, v[0], c.want)
		}
	}
	v := h.Values(HeaderIntegrationID)
	switch {
	case len(v) > 1:
		return http.StatusBadRequest, fmt.Sprintf("header %s sent %d times", HeaderIntegrationID, len(v))
	case r.integration == "" && len(v) == 1:
		return http.StatusForbidden, fmt.Sprintf("%s %q sent, but no integration is configured (%sINTEGRATION_ID)", HeaderIntegrationID, v[0], EnvPrefix)
	case r.integration != "" && (len(v) == 0 || v[0] == ""):
		return http.StatusBadRequest, "missing header " + HeaderIntegrationID
	case r.integration != "" && v[0] != r.integration:
		return http.StatusForbidden, fmt.Sprintf("%s %q does not match the configured %q", HeaderIntegrationID, v[0], r.integration)
	}
	return 0, ""
}
