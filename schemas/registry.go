package schemas

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/sr"
)

// Registry is the part of a schema registry a Serde needs. Implementations
// return an error wrapping ErrUnknownSchema for an id they do not know, so a
// record naming one goes to the DLQ instead of being retried forever.
type Registry interface {
	// Register returns the id of schema under subject, registering it if it
	// is new. The same schema must always get the same id.
	Register(ctx context.Context, subject, schema string) (id int, err error)
	// SchemaByID returns the schema text registered under id.
	SchemaByID(ctx context.Context, id int) (string, error)
}

// RegistryClient is a Registry backed by a real schema registry (Redpanda's,
// Confluent's) over its REST API.
type RegistryClient struct {
	cl *sr.Client
}

// NewRegistryClient returns a client for the registry at sr.URLs(...), with
// any authentication or TLS options.
func NewRegistryClient(opts ...sr.ClientOpt) (*RegistryClient, error) {
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("schemas: registry client: %w", err)
	}
	return &RegistryClient{cl: cl}, nil
}

// Register implements Registry.
func (c *RegistryClient) Register(ctx context.Context, subject, schema string) (int, error) {
	// RegisterSchema, not CreateSchema: one request, and the id is all we
	// need.
	id, err := c.cl.RegisterSchema(ctx, subject, sr.Schema{Schema: schema, Type: sr.TypeAvro}, -1, -1)
	if err != nil {
		return 0, fmt.Errorf("schema registry: %w", err)
	}
	return id, nil
}

// SchemaByID implements Registry.
func (c *RegistryClient) SchemaByID(ctx context.Context, id int) (string, error) {
	s, err := c.cl.SchemaByID(ctx, id)
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && re.ErrorCode == sr.ErrSchemaNotFound.Code {
			return "", fmt.Errorf("%w: id %d: %v", ErrUnknownSchema, id, err)
		}
		return "", fmt.Errorf("schema registry: %w", err)
	}
	return s.Schema, nil
}

// MemRegistry is a Registry in memory, for tests and dry runs: ids count from
// 1 in registration order and last as long as the process.
type MemRegistry struct {
	mu     sync.RWMutex
	byID   map[int]string
	ids    map[string]int // by compacted schema text, as registries answer the same schema with one id
	nextID int
}

// NewMemRegistry returns an empty MemRegistry.
func NewMemRegistry() *MemRegistry {
	return &MemRegistry{byID: map[int]string{}, ids: map[string]int{}, nextID: 1}
}

// Register implements Registry. Subjects are not kept: nothing here asks for
// one.
func (r *MemRegistry) Register(_ context.Context, _, schema string) (int, error) {
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(schema)); err != nil {
		return 0, fmt.Errorf("schema is not JSON: %w", err)
	}
	key := compact.String()
	r.mu.Lock()
	defer r.mu.Unlock()
	if id, ok := r.ids[key]; ok {
		return id, nil
	}
	id := r.nextID
	r.nextID++
	r.ids[key] = id
	r.byID[id] = schema
	return id, nil
}

// SchemaByID implements Registry.
func (r *MemRegistry) SchemaByID(_ context.Context, id int) (string, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.byID[id]
	if !ok {
		return "", fmt.Errorf("%w: id %d", ErrUnknownSchema, id)
	}
	return s, nil
}
