package brokertest

import (
	"context"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestRealKafka probes the local broker (skipped without one, failed
// under CI=true) and logs its cluster id.
func TestRealKafka(t *testing.T) {
	if seeds := RealKafka(t); len(seeds) != 1 {
		t.Fatalf("RealKafka = %v", seeds)
	}
}

func TestProbeAcceptsKafka(t *testing.T) {
	seeds := Kfake(t)
	info, err := probe(context.Background(), seeds[0], 10*time.Second)
	if err != nil {
		t.Fatalf("probe of kfake: %v", err)
	}
	if info.ClusterID == "" || info.Brokers != 1 {
		t.Fatalf("probe of kfake = %+v", info)
	}
}

// notKafka listens on a local port and answers every connection as a web
// server answers bytes it cannot parse.
func notKafka(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
			c.Close()
		}
	}()
	return ln.Addr().String()
}

// A web server on the Kafka port (a stray dev server, a proxy) must not
// pass for a broker.
func TestProbeRejectsHTTP(t *testing.T) {
	addr := notKafka(t)
	start := time.Now()
	if info, err := probe(context.Background(), addr, 5*time.Second); err == nil {
		t.Fatalf("an HTTP server passed the probe as Kafka: %+v", info)
	} else {
		t.Logf("HTTP server after %s: %v", time.Since(start).Round(time.Millisecond), err)
	}
}

// A listener that accepts and never answers must fail within the timeout.
func TestProbeRejectsSilentListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	start := time.Now()
	if info, err := probe(context.Background(), ln.Addr().String(), time.Second); err == nil {
		t.Fatalf("a silent listener passed the probe as Kafka: %+v", info)
	} else {
		t.Logf("silent listener after %s: %v", time.Since(start).Round(time.Millisecond), err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("probe took %s, want about its 1s timeout", d)
	}
}

// RealKafka itself: skipped or failed (CI) with a message naming the
// address when what answers is not Kafka.
func TestRealKafkaRefusesHTTP(t *testing.T) {
	addr := notKafka(t)
	t.Setenv("LOCKSTEP_TEST_KAFKA", addr)
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		rec := &recorder{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			RealKafka(rec)
		}()
		<-done
		want := "skip"
		if ci == "true" {
			want = "fatal"
		}
		if rec.how != want || !strings.Contains(rec.msg, addr) || !strings.Contains(rec.msg, "not a usable Kafka broker") {
			t.Fatalf("CI=%q: RealKafka ended with %s %q, want %s naming %s", ci, rec.how, rec.msg, want, addr)
		}
	}
}

// recorder is a testing.TB whose Fatal and Skip end the calling goroutine
// and remember how.
type recorder struct {
	testing.TB
	how, msg string
}

func (r *recorder) Helper()             {}
func (r *recorder) Logf(string, ...any) {}
func (r *recorder) Fatal(args ...any)   { r.end("fatal", args...) }
func (r *recorder) Skip(args ...any)    { r.end("skip", args...) }
func (r *recorder) Cleanup(func())      {}
func (r *recorder) end(how string, args ...any) {
	r.how = how
	for _, a := range args {
		r.msg += a.(string)
	}
	runtimeGoexit()
}

var runtimeGoexit = runtime.Goexit
