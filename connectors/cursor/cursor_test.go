package cursor_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/broker/brokertest"
	"github.com/lockstep-dev/lockstep/connectors/cursor"
)

const (
	topic  = "lockstep.source-cursors"
	events = "events"
)

// env is a kfake cluster with the cursor topic and an events topic.
type env struct {
	t     *testing.T
	ctx   context.Context
	kopts []kgo.Opt
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	e := &env{t: t, ctx: ctx, kopts: []kgo.Opt{kgo.SeedBrokers(brokertest.Kfake(t)...)}}
	cl := e.client()
	if _, err := kadm.NewClient(cl).CreateTopics(ctx, 3, 1, nil, topic, events); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) client(opts ...kgo.Opt) *kgo.Client {
	e.t.Helper()
	cl, err := kgo.NewClient(append(slices.Clone(e.kopts), opts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(cl.Close)
	return cl
}

// produce writes key=value to the cursor topic outside any transaction
// (nil value: a tombstone).
func (e *env) produce(key string, value []byte) {
	e.t.Helper()
	if err := e.client().ProduceSync(e.ctx, &kgo.Record{Topic: topic, Key: []byte(key), Value: value}).FirstErr(); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) read(keys ...string) map[string][]byte {
	e.t.Helper()
	vals, err := cursor.Read(e.ctx, e.kopts, topic, 10*time.Second, keys...)
	if err != nil {
		e.t.Fatal(err)
	}
	return vals
}

func (e *env) committer(o cursor.Config, opts ...kgo.Opt) *cursor.Committer {
	e.t.Helper()
	o.Topic = topic
	if o.TransactionalID == "" {
		o.TransactionalID = "test-source"
	}
	c, err := cursor.NewCommitter(o, append(slices.Clone(e.kopts), opts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(c.Close)
	return c
}

func wantValues(t *testing.T, got map[string][]byte, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("values %q, want %q", got, want)
	}
	for k, v := range want {
		if string(got[k]) != v {
			t.Fatalf("values %q, want %q", got, want)
		}
	}
}

func TestReadMissingTopic(t *testing.T) {
	e := &env{t: t, ctx: context.Background(), kopts: []kgo.Opt{kgo.SeedBrokers(brokertest.Kfake(t)...)}}
	wantValues(t, e.read("a"), nil)
}

func TestReadAbsentPresentOverwritten(t *testing.T) {
	e := newEnv(t)
	wantValues(t, e.read("a", "b"), nil) // empty topic
	e.produce("a", []byte("a1"))
	e.produce("b", []byte("b1"))
	e.produce("other", []byte("x"))
	e.produce("a", []byte("a2"))
	wantValues(t, e.read("a", "b", "absent"), map[string]string{"a": "a2", "b": "b1"})
	wantValues(t, e.read("b"), map[string]string{"b": "b1"})
	e.produce("b", nil) // a tombstone: the key is gone
	wantValues(t, e.read("a", "b"), map[string]string{"a": "a2"})
}

// A read while another producer's transaction is open on the topic waits
// for it to end, then sees its value if it committed and the previous one
// if it aborted.
func TestReadWaitsForOpenTransaction(t *testing.T) {
	for _, tc := range []struct {
		name   string
		commit kgo.TransactionEndTry
		want   string
	}{
		{"commits", kgo.TryCommit, "open"},
		{"aborts", kgo.TryAbort, "before"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.produce("a", []byte("before"))
			other := e.client(kgo.TransactionalID("other-source"))
			if err := other.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			if err := other.ProduceSync(e.ctx, &kgo.Record{Topic: topic, Key: []byte("a"), Value: []byte("open")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			type result struct {
				vals map[string][]byte
				err  error
			}
			done := make(chan result, 1)
			go func() {
				vals, err := cursor.Read(e.ctx, e.kopts, topic, 30*time.Second, "a")
				done <- result{vals, err}
			}()
			select {
			case r := <-done:
				t.Fatalf("read returned %q, %v while a transaction was open", r.vals, r.err)
			case <-time.After(500 * time.Millisecond):
			}
			if err := other.EndTransaction(e.ctx, tc.commit); err != nil {
				t.Fatal(err)
			}
			r := <-done
			if r.err != nil {
				t.Fatal(r.err)
			}
			wantValues(t, r.vals, map[string]string{"a": tc.want})
		})
	}
}

// A transaction that stays open fails the read once its bound has passed,
// with an error that says why; a cancelled context ends it at once.
func TestReadBounded(t *testing.T) {
	e := newEnv(t)
	other := e.client(kgo.TransactionalID("stuck-source"))
	if err := other.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := other.ProduceSync(e.ctx, &kgo.Record{Topic: topic, Key: []byte("a"), Value: []byte("open")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	_, err := cursor.Read(e.ctx, e.kopts, topic, 300*time.Millisecond, "a")
	if err == nil || !strings.Contains(err.Error(), "still open") {
		t.Fatalf("read with a transaction stuck open: %v", err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	if _, err := cursor.Read(ctx, e.kopts, topic, time.Minute, "a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("read with a cancelled context: %v", err)
	}
}

func TestCommitThenReadBack(t *testing.T) {
	e := newEnv(t)
	c := e.committer(cursor.Config{})
	if err := c.Commit(e.ctx, "a", []byte("a1")); err == nil {
		t.Fatal("commit before load succeeded")
	}
	vals, err := c.Load(e.ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	wantValues(t, vals, nil)
	if !c.Loaded() {
		t.Fatal("not loaded after Load")
	}
	for i, v := range []string{"a1", "a2"} {
		if err := c.Commit(e.ctx, "a", []byte(v), &kgo.Record{Topic: events, Key: []byte{byte(i)}, Value: []byte(v)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Commit(e.ctx, "b", []byte("b1")); err != nil { // a cursor alone
		t.Fatal(err)
	}
	wantValues(t, e.read("a", "b"), map[string]string{"a": "a2", "b": "b1"})
	c.Close()
	if c.Loaded() {
		t.Fatal("loaded after Close")
	}
	// A restarted source reads back what it committed.
	vals, err = e.committer(cursor.Config{}).Load(e.ctx, "a", "b")
	if err != nil {
		t.Fatal(err)
	}
	wantValues(t, vals, map[string]string{"a": "a2", "b": "b1"})
}

// A commit whose records fail is aborted: neither its records nor its
// cursor are read back, and the committer goes on.
func TestFailedCommitIsAborted(t *testing.T) {
	e := newEnv(t)
	c := e.committer(cursor.Config{}, kgo.ProducerBatchMaxBytes(1<<10))
	if _, err := c.Load(e.ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := c.Commit(e.ctx, "a", []byte("a1")); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 4<<10)
	err := c.Commit(e.ctx, "a", []byte("a2"), &kgo.Record{Topic: events, Value: big})
	if !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("commit of a record too large: %v", err)
	}
	if !c.Loaded() {
		t.Fatal("an aborted commit asks for a reload")
	}
	wantValues(t, e.read("a"), map[string]string{"a": "a1"})
	if err := c.Commit(e.ctx, "a", []byte("a3")); err != nil {
		t.Fatal(err)
	}
	wantValues(t, e.read("a"), map[string]string{"a": "a3"})
}

// A committer fenced by a newer incarnation cannot commit nor even abort:
// its client is replaced, it must load again, which fences the other in
// turn, and the previous value is what it reads back.
func TestFencedCommitReplacesClient(t *testing.T) {
	e := newEnv(t)
	c := e.committer(cursor.Config{})
	if _, err := c.Load(e.ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := c.Commit(e.ctx, "a", []byte("a1")); err != nil {
		t.Fatal(err)
	}
	newer := e.committer(cursor.Config{})
	if _, err := newer.Load(e.ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := c.Commit(e.ctx, "a", []byte("a2"), &kgo.Record{Topic: events, Value: []byte("x")}); err == nil {
		t.Fatal("a fenced committer committed")
	}
	if c.Loaded() {
		t.Fatal("a failed abort keeps the old client")
	}
	if err := c.Commit(e.ctx, "a", []byte("a2")); err == nil {
		t.Fatal("commit without a reload succeeded")
	}
	vals, err := c.Load(e.ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	wantValues(t, vals, map[string]string{"a": "a1"})
	if err := c.Commit(e.ctx, "a", []byte("a3")); err != nil {
		t.Fatal(err)
	}
	wantValues(t, e.read("a"), map[string]string{"a": "a3"})
}
