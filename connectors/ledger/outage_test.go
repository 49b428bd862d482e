package ledger_test

import (
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/lockstep-dev/lockstep/analytics"
	"github.com/lockstep-dev/lockstep/analytics/analyticstest"
	"github.com/lockstep-dev/lockstep/connectors/ledger"
	"github.com/lockstep-dev/lockstep/schemas"
)

// TestSinkClickHouseUnreachable points the sink at a closed port: it keeps
// the batch, retries until its context ends, commits nothing, is not ready,
// and says so once.
func TestSinkClickHouseUnreachable(t *testing.T) {
	onBrokers(t, func(t *testing.T, b *broker) {
		f := newFixture(t, b, 2)
		conn := closedPortConn(t)
		var evs []*schemas.DriftEvent
		for i := range 20 {
			evs = append(evs, driftEvent(i))
		}
		f.produceEvents(t, evs...)
		// The group has a position already; it must not move.
		f.resetGroup(t, 2)
		before := f.committed(t)
		if len(before) != 2 {
			t.Fatalf("committed before the sink = %v", before)
		}

		s := f.startSink(t, conn, ledger.Config{})
		eventually(t, 30*time.Second, "retrying", func() (bool, string) {
			n := s.metric(t, mFailed)
			return n >= 5, fmt.Sprintf("%v failed attempts", n)
		})
		seen := s.metric(t, mFailed)
		eventually(t, 30*time.Second, "still retrying", func() (bool, string) {
			n := s.metric(t, mFailed)
			return n > seen, fmt.Sprintf("%v failed attempts", n)
		})
		if got := f.committed(t); !maps.Equal(got, before) {
			t.Fatalf("committed %v while ClickHouse is down, want %v as before", got, before)
		}
		if s.Ready() || slices.Contains(s.ready.calls(), true) {
			t.Fatalf("ready (%v, calls %v) while ClickHouse is down", s.Ready(), s.ready.calls())
		}
		if got := s.metric(t, mRows); got != 0 {
			t.Fatalf("%s = %v", mRows, got)
		}
		s.shutdown(t)
		if got := f.committed(t); !maps.Equal(got, before) {
			t.Fatalf("committed %v at shutdown, want %v as before", got, before)
		}
		if n := s.logs.count("WARN", ""); n != 1 {
			t.Errorf("%d warnings for one outage, want 1:\n%s", n, s.logs.String())
		}
	})
}

// closedPortConn is a ClickHouse connection to a port nothing listens on.
func closedPortConn(t *testing.T) driver.Conn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestSinkRecoversWhenClickHouseReturns starts with ClickHouse unreachable
// behind a proxy, then lets it through: nothing is committed during the
// outage, nothing is skipped after it, and readiness follows.
func TestSinkRecoversWhenClickHouseReturns(t *testing.T) {
	onBrokers(t, func(t *testing.T, b *broker) {
		f := newFixture(t, b, 2)
		_, cfg := analyticstest.Migrated(t)
		p := newProxy(t, cfg.Addr)
		conn, err := clickhouse.Open(&clickhouse.Options{
			Addr: []string{p.addr()}, Auth: clickhouse.Auth{Database: cfg.Database, Username: analytics.DefaultUsername},
			DialTimeout: time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })

		var evs []*schemas.DriftEvent
		for i := range 30 {
			evs = append(evs, driftEvent(i))
		}
		recs := f.produceEvents(t, evs...)
		s := f.startSink(t, conn, ledger.Config{})
		eventually(t, 30*time.Second, "failing", func() (bool, string) {
			n := s.metric(t, mFailed)
			return n >= 3, fmt.Sprintf("%v failed attempts", n)
		})
		if got := f.committed(t); len(got) != 0 {
			t.Fatalf("committed %v during the outage", got)
		}
		if s.Ready() {
			t.Fatal("ready during the outage")
		}

		p.up.Store(true)
		waitAllIn(t, f, s, conn, len(evs), len(evs), wantCommitted(recs))
		if !s.Ready() || !slices.Equal(s.ready.calls(), []bool{true}) {
			t.Fatalf("Ready() = %v, SetReady calls %v; want ready once ClickHouse answers", s.Ready(), s.ready.calls())
		}
		if w, i := s.logs.count("WARN", ""), s.logs.count("INFO", "ClickHouse works again"); w != 1 || i != 1 {
			t.Errorf("%d warnings and %d recoveries logged, want 1 and 1:\n%s", w, i, s.logs.String())
		}
	})
}

// proxy forwards TCP connections to target while up, and closes them at
// once while down.
type proxy struct {
	ln     net.Listener
	target string
	up     atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			c.Close()
		}
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.up.Load() {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); up.Close() }()
		go func() { _, _ = io.Copy(c, up); c.Close() }()
	}
}
