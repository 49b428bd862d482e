package state

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Pebble reports background failures (a flush that hit a full disk) only
// through its logger; they must reach ours.
func TestPebbleErrorsAreLogged(t *testing.T) {
	var buf bytes.Buffer
	l := pebbleLogger{slog.New(slog.NewTextHandler(&buf, nil))}
	l.Infof("noise %d", 1)
	if buf.Len() != 0 {
		t.Errorf("Infof logged %q", buf.String())
	}
	l.Errorf("background error: %s", "no space left on device")
	if got := buf.String(); !strings.Contains(got, "level=ERROR") || !strings.Contains(got, "no space left on device") {
		t.Errorf("Errorf logged %q", got)
	}
}

// TestApplyInFlight holds an Apply's write to Pebble in flight and checks
// that nothing reads around it: the overlay's point reads and ranges see
// the batch, the next Apply and the store's own reads wait for it, and a
// failed write keeps the batch readable and fails the next Apply.
func TestApplyInFlight(t *testing.T) {
	s, err := Open("db", Options{FS: vfs.NewMem(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	o := s.NewOverlay()
	o.Put(0, "t", []byte("a"), []byte("old"))
	o.Put(0, "t", []byte("b"), []byte("old"))
	if err := o.Apply(map[int32]Checkpoint{0: {Offset: 1}}); err != nil {
		t.Fatal(err)
	}
	get := func(k string) string {
		t.Helper()
		v, ok, err := o.Get(0, "t", []byte(k))
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return "-"
		}
		return string(v)
	}
	scan := func() string {
		t.Helper()
		var out []string
		if err := o.Range(0, "t", nil, nil, func(k, v []byte) bool {
			out = append(out, string(k)+"="+string(v))
			return true
		}); err != nil {
			t.Fatal(err)
		}
		return strings.Join(out, ",")
	}
	if got := get("a") + get("b"); got != "oldold" { // cached, and the iterator made
		t.Fatalf("before: %s", got)
	}

	release := make(chan struct{})
	s.beforeWrite = func() error { <-release; return nil }
	o.Put(0, "t", []byte("a"), []byte("new"))
	o.Delete(0, "t", []byte("b"))
	o.Put(0, "t", []byte("c"), []byte("new"))
	if err := o.Apply(map[int32]Checkpoint{0: {Offset: 2}}); err != nil {
		t.Fatal(err)
	}
	if o.job == nil || o.job.finished() {
		t.Fatal("the write is not in flight")
	}
	if got := get("a") + get("b") + get("c"); got != "new-new" {
		t.Errorf("point reads while the write is in flight: %s, want new-new", got)
	}
	if got := scan(); got != "a=new,c=new" {
		t.Errorf("range while the write is in flight: %s", got)
	}
	// The next batch's writes win over the one in flight.
	o.Put(0, "t", []byte("c"), []byte("newer"))
	if got := get("c"); got != "newer" {
		t.Errorf("open batch over the frozen one: c=%s", got)
	}
	if got := scan(); got != "a=new,c=newer" {
		t.Errorf("range, open batch over the frozen one: %s", got)
	}
	// Checkpoint waits for the write: the write is let go only once
	// Checkpoint waits for it.
	var once sync.Once
	s.onSettle = func() { once.Do(func() { close(release) }) }
	s.beforeWrite = nil
	if cp, _, _ := s.Checkpoint(0); cp.Offset != 2 {
		t.Errorf("Checkpoint read %d before the write landed, want 2", cp.Offset)
	}
	once.Do(func() { close(release) })
	s.onSettle = nil
	if got := get("a") + get("b") + get("c"); got != "new-newer" {
		t.Errorf("after the write: %s", got)
	}
	if o.frozen != nil {
		t.Error("the frozen layer outlived its write")
	}

	// A failed write: the batch stays readable, the next Apply fails.
	if err := o.Apply(nil); err != nil {
		t.Fatal(err)
	}
	s.beforeWrite = func() error { return errors.New("disk full") }
	o.Put(0, "t", []byte("d"), []byte("lost"))
	if err := o.Apply(nil); err != nil {
		t.Fatal(err)
	}
	<-o.job.done
	if o.job.err == nil {
		t.Fatal("the write to a closed DB did not fail")
	}
	v, ok, _ := o.Get(0, "t", []byte("d"))
	if !ok || string(v) != "lost" {
		t.Errorf("after a failed write, d = %q %v: the batch must stay readable", v, ok)
	}
	if err := o.Apply(nil); err == nil {
		t.Error("Apply after a failed write succeeded")
	}
	s.beforeWrite = nil
	if err := s.Close(); err == nil {
		t.Error("Close after a failed write reported nothing")
	}
}

func TestReadStats(t *testing.T) {
	s, err := Open("db", Options{FS: vfs.NewMem(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	o := s.NewOverlay()
	o.Put(0, "t", []byte("a"), []byte("1"))
	if _, _, err := o.Get(0, "t", []byte("a")); err != nil { // the overlay answers: not counted
		t.Fatal(err)
	}
	if err := o.Apply(nil); err != nil {
		t.Fatal(err)
	}
	if err := s.settle(); err != nil {
		t.Fatal(err)
	}
	o.reap()
	for range 3 {
		if _, _, err := o.Get(0, "t", []byte("a")); err != nil {
			t.Fatal(err)
		}
	}
	// Apply wrote a through to the cache only if it was cached: it was not,
	// so the first read goes to Pebble and the next two hit the cache.
	if got, want := s.ReadStats(), (ReadStats{CacheHits: 2, PebbleReads: 1}); got != want {
		t.Fatalf("ReadStats %+v, want %+v", got, want)
	}
}
