package schemas

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// EmbeddedRegistry is franz-go's in-process schema registry made durable:
// every schema it registers is written to the compacted topic _schemas
// before its id is handed out, and a new EmbeddedRegistry replays that topic,
// so after a restart of the process or of the embedded broker the same
// schemas have the same ids and old records still decode.
//
// It serves the Confluent REST API at URL for tools such as Redpanda
// Console and Confluent's deserializers, looking schemas up by id whatever
// subject they name, as Confluent's registry does. Over HTTP it only adds
// schemas: deletes and config changes would not survive a restart, so it
// refuses them.
type EmbeddedRegistry struct {
	fake *srfake.Registry
	cl   *kgo.Client
	srv  *http.Server
	url  string
	done chan struct{}

	mu        sync.Mutex // one registration at a time: the log stays in id order
	byID      map[int]string
	persisted map[logKey]int
}

// NewEmbeddedRegistry starts an embedded registry on a free port of
// 127.0.0.1, keeping its schemas in the cluster that opts (kgo.SeedBrokers
// and any auth) connect to.
func NewEmbeddedRegistry(ctx context.Context, opts ...kgo.Opt) (*EmbeddedRegistry, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("schemas: embedded registry: %w", err)
	}
	return NewEmbeddedRegistryOn(ctx, ln, opts...)
}

// NewEmbeddedRegistryOn is NewEmbeddedRegistry serving on ln, for a fixed
// address. It closes ln if it fails.
func NewEmbeddedRegistryOn(ctx context.Context, ln net.Listener, opts ...kgo.Opt) (*EmbeddedRegistry, error) {
	r, err := openEmbedded(ctx, opts)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("schemas: embedded registry: %w", err)
	}
	r.url = "http://" + ln.Addr().String()
	r.srv = &http.Server{Handler: r.handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(r.done)
		_ = r.srv.Serve(ln) // ErrServerClosed once Close is called
	}()
	return r, nil
}

func openEmbedded(ctx context.Context, opts []kgo.Opt) (*EmbeddedRegistry, error) {
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	r := &EmbeddedRegistry{
		fake:      srfake.NewRegistry(),
		cl:        cl,
		done:      make(chan struct{}),
		byID:      map[int]string{},
		persisted: map[logKey]int{},
	}
	adm := kadm.NewClient(cl)
	if err := ensureTopic(ctx, adm); err != nil {
		cl.Close()
		return nil, err
	}
	log, err := readLog(ctx, adm, opts)
	if err == nil {
		if err = r.restore(log); err != nil {
			err = fmt.Errorf("restore from %s: %w", SchemasTopic, err)
		}
	}
	if err != nil {
		cl.Close()
		return nil, err
	}
	return r, nil
}

// restore seeds srfake with the logged schemas at their logged ids; srfake
// then numbers new schemas after the highest.
func (r *EmbeddedRegistry) restore(log []logValue) error {
	for _, v := range log {
		s, err := v.schema()
		if err != nil {
			return fmt.Errorf("%s v%d: %w", v.Subject, v.Version, err)
		}
		if prev, ok := r.byID[v.ID]; ok {
			// One schema under a second subject keeps its id: registering it
			// again must give back the logged id and version.
			id, version, err := r.fake.RegisterSchema(v.Subject, s)
			if err != nil || id != v.ID || version != v.Version || prev != v.Schema {
				return fmt.Errorf("%s v%d: logged with id %d, restored as id %d v%d (%v)", v.Subject, v.Version, v.ID, id, version, err)
			}
		} else if err := seed(r.fake, v, s); err != nil {
			return err
		}
		r.byID[v.ID] = v.Schema
		r.persisted[logKey{KeyType: "SCHEMA", Subject: v.Subject, Version: v.Version}] = v.ID
	}
	return nil
}

// seed calls srfake's SeedSchema, which panics on a bad or duplicate slot;
// from a log someone else could have written, that is an error.
func seed(fake *srfake.Registry, v logValue, s sr.Schema) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s v%d id %d: %v", v.Subject, v.Version, v.ID, p)
		}
	}()
	fake.SeedSchema(v.Subject, v.Version, v.ID, s)
	return nil
}

var errLogWrite = errors.New("write " + SchemasTopic)

// Register implements Registry.
func (r *EmbeddedRegistry) Register(ctx context.Context, subject, schema string) (int, error) {
	return r.register(ctx, subject, sr.Schema{Schema: schema, Type: sr.TypeAvro})
}

func (r *EmbeddedRegistry) register(ctx context.Context, subject string, s sr.Schema) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id, version, err := r.fake.RegisterSchema(subject, s)
	if err != nil {
		return 0, fmt.Errorf("embedded registry: %w", err)
	}
	key := logKey{KeyType: "SCHEMA", Subject: subject, Version: version}
	if _, ok := r.persisted[key]; ok {
		return id, nil
	}
	// If this fails, srfake keeps the id but nobody has seen it: the next
	// attempt gets the same id from srfake and logs it then.
	rec, err := logRecord(subject, version, id, s)
	if err == nil {
		err = r.cl.ProduceSync(ctx, rec).FirstErr()
	}
	if err != nil {
		return 0, fmt.Errorf("embedded registry: %w: %w", errLogWrite, err)
	}
	r.persisted[key] = id
	r.byID[id] = s.Schema
	return id, nil
}

// SchemaByID implements Registry.
func (r *EmbeddedRegistry) SchemaByID(_ context.Context, id int) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.byID[id]
	if !ok {
		return "", fmt.Errorf("%w: id %d", ErrUnknownSchema, id)
	}
	return s, nil
}

// URL is the base URL of the REST API, e.g. for Redpanda Console or
// NewRegistryClient.
func (r *EmbeddedRegistry) URL() string { return r.url }

// Close stops serving and closes the Kafka client. Everything registered is
// already in _schemas.
func (r *EmbeddedRegistry) Close() {
	_ = r.srv.Close()
	<-r.done
	r.cl.Close()
}

// handler puts registration through r.register, so HTTP clients get durable
// ids too, and serves everything that only reads from srfake.
func (r *EmbeddedRegistry) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /subjects/{subject}/versions", r.handleRegister)
	refuse := func(w http.ResponseWriter, _ *http.Request) {
		writeRegistryError(w, http.StatusMethodNotAllowed, 405,
			"the embedded registry only adds schemas: changes other than registration would not survive a restart")
	}
	mux.HandleFunc("DELETE /", refuse)
	mux.HandleFunc("PUT /", refuse)
	mux.HandleFunc("POST /contexts/", refuse) // would register around r.register
	// Schemas by id: the subject parameter only picks a context, as in
	// Confluent's registry and Redpanda's (srfake would match the subject).
	for _, p := range []string{"/schemas/ids/{id}", "/schemas/ids/{id}/schema"} {
		mux.HandleFunc("GET "+p, r.handleSchemaByID)
		mux.HandleFunc("GET /contexts/{context}"+p, r.handleSchemaByID)
	}
	mux.Handle("/", r.fake.Handler())
	return mux
}

// handleSchemaByID serves GET /schemas/ids/{id}[/schema]?subject=S the way
// Confluent Schema Registry and Redpanda do: S does not have to be a subject
// the schema is registered under; it only names the context to look the id
// up in, the default one unless S is qualified (":.ctx:name"). Confluent's
// own deserializers send ?subject=<topic>-value with their default topic
// name strategy, while lockstep registers under record names: were the
// subject matched, as srfake does, every such lookup would answer 404.
// Under /contexts/{context}/ the path names the context and S is ignored.
func (r *EmbeddedRegistry) handleSchemaByID(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	subject, ok := q["subject"]
	if !ok {
		r.fake.Handler().ServeHTTP(w, req)
		return
	}
	q.Del("subject")
	inContext := req.PathValue("context") != ""
	req = req.Clone(req.Context())
	req.URL.RawQuery = q.Encode()
	if ctx := subjectContext(subject[0]); ctx != "." && !inContext {
		req.URL.Path = "/contexts/" + ctx + req.URL.Path
		req.URL.RawPath = ""
	}
	r.fake.Handler().ServeHTTP(w, req)
}

// subjectContext is the context of a subject: ".ctx" for ":.ctx:name", the
// default context "." for any other subject (srfake's and Confluent's rule).
func subjectContext(subject string) string {
	if rest, ok := strings.CutPrefix(subject, ":."); ok {
		if i := strings.IndexByte(rest, ':'); i >= 0 {
			return "." + rest[:i]
		}
	}
	return "."
}

func (r *EmbeddedRegistry) handleRegister(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, 1<<20))
	var s sr.Schema
	if err == nil {
		err = json.Unmarshal(body, &s)
	}
	if err != nil {
		writeRegistryError(w, http.StatusUnprocessableEntity, sr.ErrInvalidSchema.Code, err.Error())
		return
	}
	id, err := r.register(req.Context(), req.PathValue("subject"), s)
	if err != nil {
		status, code := http.StatusUnprocessableEntity, sr.ErrInvalidSchema.Code
		if errors.Is(err, errLogWrite) {
			status, code = http.StatusInternalServerError, 50001 // error in the backend data store
		}
		writeRegistryError(w, status, code, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	_ = json.NewEncoder(w).Encode(map[string]int{"id": id})
}

func writeRegistryError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error_code": code, "message": msg})
}
