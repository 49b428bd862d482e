package stock_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/broker/brokertest"
	"github.com/lockstep-dev/lockstep/connectors/deadletter"
	"github.com/lockstep-dev/lockstep/processors/stock"
	"github.com/lockstep-dev/lockstep/processors/stream"
	"github.com/lockstep-dev/lockstep/schemas"
	"github.com/lockstep-dev/lockstep/state"
)

// BenchmarkStockKafka runs the stock processor, with the runtime's default
// batching and commit interval and a 5s push, on the real broker over
// LOCKSTEP_BENCH_STOCK_MOVEMENTS movements (default 1,000,000; 10,000 SKUs
// x 3 warehouses, 1% re-sent, seeded), produced to a fresh 6-partition topic
// before the clock starts. It times from the processor's start until its
// group's committed offsets reach the end of the movements topic; CPU is
// this process's rusage over that span; RSS is the peak (VmHWM) since the
// clock started: the movements are freed and the peak reset through
// /proc/self/clear_refs first (which resets ru_maxrss too).
//
// With LOCKSTEP_BENCH_KSTREAMS_CP set to the classpath of the Kafka Streams
// peer (shared/peers/kstreams), the same movements also go to a second
// topic and the peer (peer.StockPeer) runs on them as a child process,
// measured the same way from /proc; its metrics are prefixed ks-. Run it
// with -benchtime 1x (make bench-stock): each iteration is a full run.
func BenchmarkStockKafka(b *testing.B) {
	seeds := brokertest.RealKafka(b)
	n := 1_000_000
	if s := os.Getenv("LOCKSTEP_BENCH_STOCK_MOVEMENTS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			b.Fatalf("LOCKSTEP_BENCH_STOCK_MOVEMENTS=%q: want a positive count", s)
		}
		n = v
	}
	peerCP := os.Getenv("LOCKSTEP_BENCH_KSTREAMS_CP")
	b.ResetTimer()
	b.StopTimer()
	for range b.N {
		runStockKafka(b, seeds, n, peerCP)
	}
}

func runStockKafka(b *testing.B, seeds []string, n int, peerCP string) {
	ctx := context.Background()
	ms := kafkaBenchMovements(n, 1)
	checkKeys := []string{schemas.StockKey("SKU-00000", "LON1"), schemas.StockKey("SKU-04242", "MAN2"), schemas.StockKey("SKU-09999", "BHX3")}
	want := independentFold(ms, checkKeys)
	prefix := fmt.Sprintf("benchstock%d.", time.Now().UnixNano()%1e9)
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ProducerLinger(5*time.Millisecond), kgo.ProducerBatchMaxBytes(1<<20))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	defer deleteTopicsWithPrefix(b, adm, prefix)

	reg, err := schemas.NewEmbeddedRegistry(ctx, kgo.SeedBrokers(seeds...))
	if err != nil {
		b.Fatal(err)
	}
	defer reg.Close()
	serde := schemas.NewSerde(reg)

	movements := prefix + schemas.TopicStockMovements
	topics := []string{movements, prefix + schemas.TopicStockSnapshots, prefix + schemas.TopicOpenGoodsOut, prefix + schemas.TopicStockLevels,
		prefix + schemas.TopicCmdPrimaStock, prefix + schemas.TopicDrift, prefix + schemas.TopicDLQ}
	peerIn, peerOut := prefix+"ks.in", prefix+"ks.out"
	if peerCP != "" {
		topics = append(topics, peerIn, peerOut)
	}
	for _, topic := range topics {
		resp, err := adm.CreateTopic(ctx, 6, 1, nil, topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			b.Fatalf("create topic %s: %v", topic, err)
		}
	}
	produceStart := time.Now()
	parts := produceMovements(b, cl, serde, ms, movements, checkKeys)
	if peerCP != "" {
		produceMovements(b, cl, serde, ms, peerIn, nil)
	}
	ms = nil
	b.Logf("%s: produced %d movements (x%d topics) in %s; registry %s", prefix, n, map[bool]int{false: 1, true: 2}[peerCP != ""], time.Since(produceStart).Round(time.Millisecond), reg.URL())

	// lockstep, with the defaults a deployment gets.
	topo, err := stock.Topology(stock.Config{TopicPrefix: prefix, PushInterval: 5 * time.Second}, serde)
	if err != nil {
		b.Fatal(err)
	}
	promReg := prometheus.NewRegistry()
	// The movements and the producer's buffers are garbage now: give them
	// back and restart the peak RSS count (VmHWM, and ru_maxrss with it),
	// so that it covers the processing only.
	runtime.GC()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("cannot reset the peak RSS: %v", err)
	}
	broker := brokerPID(b)
	brokerBefore := procCPUOr0(broker)
	stopProfile := startCPUProfile(b)
	var before syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &before); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	b.StartTimer()
	p, err := stream.New(stream.Config{
		Topology:         topo,
		StateDir:         b.TempDir(),
		InstanceID:       "bench",
		TopicPrefix:      prefix,
		EncodeDeadLetter: deadletter.Avro(serde),
		Metrics:          stream.NewMetrics(promReg),
		Logger:           testLogger(),
	}, kgo.SeedBrokers(seeds...))
	if err != nil {
		b.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	first := waitCommittedEnd(b, adm, stream.GroupID(prefix, stock.Name), movements, done)
	elapsed := time.Since(start)
	b.StopTimer()
	var after syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &after); err != nil {
		b.Fatal(err)
	}
	stopProfile()
	brokerCPU := procCPUOr0(broker) - brokerBefore
	hwm, err := procHWM(os.Getpid())
	if err != nil {
		b.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		b.Fatalf("processor stopped with: %v", err)
	}
	cpu := tvDur(after.Utime) - tvDur(before.Utime) + tvDur(after.Stime) - tvDur(before.Stime)
	changelog := sumEnds(b, adm, stream.ChangelogTopic(prefix, stock.Name))
	txns := counter(b, promReg, "lockstep_transactions_total")
	rate := float64(n) / elapsed.Seconds()
	usPer := float64(cpu.Microseconds()) / float64(n)
	b.ReportMetric(rate, "movements/s")
	b.ReportMetric(usPer, "cpu-us/movement")
	b.ReportMetric(float64(changelog)/float64(n), "changelog/movement") // control records included
	b.ReportMetric(txns, "txns")
	b.ReportMetric(first.Sub(start).Seconds(), "first-commit-s")
	b.ReportMetric(hwm, "peak-rss-MiB") // VmHWM since the clock started
	if broker > 0 {
		b.ReportMetric(brokerCPU.Seconds(), "broker-cpu-s")
	}
	b.Logf("lockstep: %d movements in %s, %.0f/s, CPU %s (%.1f us/movement), %d changelog records, %.0f transactions, peak RSS %.0f MiB, broker CPU %s, first commit after %s",
		n, elapsed.Round(time.Millisecond), rate, cpu.Round(time.Millisecond), usPer, changelog, txns, hwm, brokerCPU.Round(time.Millisecond), first.Sub(start).Round(time.Millisecond))
	checkChangelogLevels(b, seeds, stream.ChangelogTopic(prefix, stock.Name), parts, want)

	if peerCP == "" {
		return
	}
	ks := runPeer(b, adm, peerCP, seeds[0], prefix+"ks", peerIn, peerOut, reg.URL(), want, broker)
	ksRate := float64(n) / ks.elapsed.Seconds()
	ksUs := float64(ks.cpu.Microseconds()) / float64(n)
	b.ReportMetric(ksRate, "ks-movements/s")
	b.ReportMetric(ksUs, "ks-cpu-us/movement")
	b.ReportMetric(float64(ks.changelog)/float64(n), "ks-changelog/movement")
	b.ReportMetric(ks.rssMiB, "ks-peak-rss-MiB")
	b.ReportMetric(ks.firstCommit.Seconds(), "ks-first-commit-s")
	if broker > 0 {
		b.ReportMetric(ks.brokerCPU.Seconds(), "ks-broker-cpu-s")
		b.ReportMetric(brokerCPU.Seconds()/ks.brokerCPU.Seconds(), "ratio-broker-cpu") // lockstep / Kafka Streams
	}
	b.ReportMetric(rate/ksRate, "ratio-movements/s") // lockstep / Kafka Streams
	b.ReportMetric(ksUs/usPer, "ratio-ks/lockstep-cpu")
	b.Logf("kafka streams: %d movements in %s, %.0f/s, CPU %s (%.1f us/movement), %d changelog records, peak RSS %.0f MiB, broker CPU %s; lockstep/ks throughput %.2f",
		n, ks.elapsed.Round(time.Millisecond), ksRate, ks.cpu.Round(time.Millisecond), ksUs, ks.changelog, ks.rssMiB, ks.brokerCPU.Round(time.Millisecond), rate/ksRate)
}

// kafkaBenchMovements is n movements over 10,000 SKUs x 3 warehouses, a
// random mix of kinds and quantities, occurred_at 10ms apart (a busy feed
// of 100 movements/s), 1% of them a re-send of one of the previous 1,000
// (same movement id, same everything). The same seed gives the same list.
func kafkaBenchMovements(n int, seed uint64) []schemas.StockMovement {
	rng := rand.New(rand.NewPCG(seed, 13))
	warehouses := []string{"LON1", "MAN2", "BHX3"}
	base := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	out := make([]schemas.StockMovement, n)
	for i := range out {
		if i > 0 && rng.IntN(100) == 0 {
			out[i] = out[i-1-rng.IntN(min(i, 1000))]
			continue
		}
		k := rng.IntN(30_000)
		q := int64(1 + rng.IntN(20))
		var kind schemas.StockMovementKind
		switch r := rng.IntN(100); {
		case r < 20:
			kind = schemas.MovementReceipt
		case r < 45:
			kind = schemas.MovementAllocation
		case r < 70:
			kind, q = schemas.MovementPick, -q
		case r < 75:
			kind = schemas.MovementDeallocation
		case r < 80:
			kind = schemas.MovementHold
		case r < 85:
			kind, q = schemas.MovementRelease, -q
		case r < 95:
			kind = schemas.MovementAdjustment
			if rng.IntN(2) == 0 {
				q = -q
			}
		default:
			kind, q = schemas.MovementCount, int64(rng.IntN(200))
		}
		id := fmt.Sprintf("m%08d", i)
		out[i] = schemas.StockMovement{
			Meta:       schemas.Meta{EventID: "clarus/" + id, Source: schemas.SourceClarus, OccurredAt: base.Add(time.Duration(i) * 10 * time.Millisecond), IngestedAt: base},
			MovementID: id, SKU: fmt.Sprintf("SKU-%05d", k/3), Warehouse: warehouses[k%3],
			Kind: kind, Quantity: q,
		}
	}
	return out
}

// independentFold folds the movements of keys in order with stock.Fold,
// dropping repeated ids, as the processor should.
func independentFold(ms []schemas.StockMovement, keys []string) map[string]stock.Stock {
	levels := map[string]stock.Level{}
	for _, k := range keys {
		levels[k] = stock.Level{}
	}
	seen := map[string]bool{}
	for _, m := range ms {
		k := schemas.StockKey(m.SKU, m.Warehouse)
		l, ok := levels[k]
		if !ok || seen[m.MovementID] {
			continue
		}
		seen[m.MovementID] = true
		levels[k], _ = stock.Fold(l, m)
	}
	out := map[string]stock.Stock{}
	for k, l := range levels {
		out[k] = l.Stock
	}
	return out
}

// produceMovements produces ms to topic keyed sku@warehouse and returns the
// partition of each of the keys asked for.
func produceMovements(b *testing.B, cl *kgo.Client, serde *schemas.Serde, ms []schemas.StockMovement, topic string, keys []string) map[string]int32 {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		perr  error
		parts = map[string]int32{}
	)
	watch := map[string]bool{}
	for _, k := range keys {
		watch[k] = true
	}
	for i := range ms {
		v, err := serde.Encode(context.Background(), &ms[i])
		if err != nil {
			b.Fatal(err)
		}
		key := schemas.StockKey(ms[i].SKU, ms[i].Warehouse)
		wg.Add(1)
		cl.Produce(context.Background(), &kgo.Record{Topic: topic, Key: []byte(key), Value: v}, func(r *kgo.Record, err error) {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				perr = err
			} else if watch[key] {
				parts[key] = r.Partition
			}
		})
	}
	wg.Wait()
	if perr != nil {
		b.Fatalf("produce to %s: %v", topic, perr)
	}
	return parts
}

// waitCommittedEnd waits until group's committed offsets reach the end
// offset of every partition of topic, and returns when it first saw an
// offset committed (to 50 ms).
func waitCommittedEnd(b *testing.B, adm *kadm.Client, group, topic string, done <-chan error) (first time.Time) {
	ctx := context.Background()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Minute)
	for {
		select {
		case err := <-done:
			b.Fatalf("stopped before the end of %s: %v", topic, err)
		default:
		}
		offs, err := adm.FetchOffsets(ctx, group)
		if err == nil {
			reached := true
			ends.Each(func(e kadm.ListedOffset) {
				o, ok := offs.Lookup(topic, e.Partition)
				if !ok || o.At < e.Offset {
					reached = false
				}
				if ok && o.At > 0 && first.IsZero() {
					first = time.Now()
				}
			})
			if reached {
				return first
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("group %s did not reach the end of %s: %v", group, topic, err)
		}
		time.Sleep(50 * time.Millisecond) // polling the broker for progress
	}
}

func sumEnds(b *testing.B, adm *kadm.Client, topics ...string) int64 {
	ends, err := adm.ListEndOffsets(context.Background(), topics...)
	if err != nil {
		b.Fatal(err)
	}
	var sum int64
	ends.Each(func(o kadm.ListedOffset) { sum += o.Offset })
	return sum
}

func deleteTopicsWithPrefix(b *testing.B, adm *kadm.Client, prefix string) {
	ctx := context.Background()
	tds, err := adm.ListTopics(ctx)
	if err != nil {
		b.Logf("list topics to delete: %v", err)
		return
	}
	var del []string
	for _, t := range tds.Names() {
		if strings.HasPrefix(t, prefix) {
			del = append(del, t)
		}
	}
	if _, err := adm.DeleteTopics(ctx, del...); err != nil {
		b.Logf("delete topics: %v", err)
	}
}

func tvDur(tv syscall.Timeval) time.Duration {
	return time.Duration(tv.Sec)*time.Second + time.Duration(tv.Usec)*time.Microsecond
}

// checkChangelogLevels reads the levels of the checked keys from the
// changelog partitions that hold them (the last record of each wins) and
// compares them with the independent fold.
func checkChangelogLevels(b *testing.B, seeds []string, topic string, parts map[string]int32, want map[string]stock.Stock) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		b.Fatal(err)
	}
	remaining := map[int32]int64{}
	byCK := map[string]string{}
	for k, p := range parts {
		byCK[string(state.ChangelogKey(stock.StoreLevels, []byte(k)))] = k
		if e, ok := ends.Lookup(topic, p); ok && e.Offset > 0 {
			remaining[p] = e.Offset
		}
	}
	assign := map[int32]kgo.Offset{}
	for p := range remaining {
		assign[p] = kgo.NewOffset().AtStart()
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: assign})
	last := map[string][]byte{}
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			b.Fatalf("read %s: %v", topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := remaining[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			if r.Offset == end-1 {
				delete(remaining, r.Partition)
			}
			if k, ok := byCK[string(r.Key)]; ok && !r.Attrs.IsControl() {
				last[k] = r.Value
			}
		})
	}
	for k, w := range want {
		got, err := levelStock(last[k])
		if err != nil {
			b.Errorf("level of %s in the changelog: %v", k, err)
			continue
		}
		if got != w {
			b.Errorf("level of %s: changelog %+v, independent fold %+v", k, got, w)
		}
	}
}

// levelStock reads the quantities at the start of a StoreLevels value
// (stock.AppendLevel: version, flags, then on hand, allocated and held as
// varints); the journal that follows is not read.
func levelStock(v []byte) (stock.Stock, error) {
	if len(v) < 2 {
		return stock.Stock{}, fmt.Errorf("value of %d bytes", len(v))
	}
	r := bytes.NewReader(v[2:])
	var s stock.Stock
	for _, f := range []*int64{&s.OnHand, &s.Allocated, &s.Held} {
		x, err := binary.ReadVarint(r)
		if err != nil {
			return s, err
		}
		*f = x
	}
	return s, nil
}

type peerRun struct {
	elapsed     time.Duration
	firstCommit time.Duration
	cpu         time.Duration
	brokerCPU   time.Duration
	rssMiB      float64
	changelog   int64
}

// runPeer runs the Kafka Streams peer on in until its group's committed
// offsets reach the end, then reads its CPU and peak RSS from /proc, stops
// it with SIGTERM and compares its dumped levels with want.
func runPeer(b *testing.B, adm *kadm.Client, cp, bootstrap, appID, in, out, registry string, want map[string]stock.Stock, broker int) peerRun {
	dir := b.TempDir()
	dump := filepath.Join(dir, "levels.txt")
	cmd := exec.Command("java", "-cp", cp, "peer.StockPeer", "--bootstrap", bootstrap, "--app-id", appID,
		"--in", in, "--out", out, "--state-dir", filepath.Join(dir, "state"), "--registry", registry,
		"--push-ms", "5000", "--dump", dump)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	brokerBefore := procCPUOr0(broker)
	start := time.Now()
	b.StartTimer()
	if err := cmd.Start(); err != nil {
		b.Fatalf("start the peer: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	first := waitCommittedEnd(b, adm, appID, in, done)
	elapsed := time.Since(start)
	b.StopTimer()
	brokerCPU := procCPUOr0(broker) - brokerBefore
	pid := cmd.Process.Pid
	cpu, err := procCPU(pid)
	if err != nil {
		b.Fatal(err)
	}
	rss, err := procHWM(pid)
	if err != nil {
		b.Fatal(err)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.HasPrefix(line, "PEER_STATS") {
			b.Log(line)
		}
	}
	tds, err := adm.ListTopics(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	var changelogs []string
	for _, t := range tds.Names() {
		if strings.HasPrefix(t, appID+"-") && strings.HasSuffix(t, "-changelog") {
			changelogs = append(changelogs, t)
		}
	}
	var changelog int64
	if len(changelogs) > 0 {
		changelog = sumEnds(b, adm, changelogs...)
	}
	got, err := readDump(dump)
	if err != nil {
		b.Logf("peer output:\n%s", logs.String())
		b.Fatalf("peer dump: %v", err)
	}
	for k, w := range want {
		if got[k] != w {
			b.Errorf("peer level of %s: %+v, independent fold %+v", k, got[k], w)
		}
	}
	return peerRun{elapsed: elapsed, firstCommit: first.Sub(start), cpu: cpu, brokerCPU: brokerCPU, rssMiB: rss, changelog: changelog}
}

// procCPU is a process's user and system CPU from /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64) // field 14, utime
	st, err2 := strconv.ParseInt(f[12], 10, 64) // field 15, stime
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %v %v", pid, err1, err2)
	}
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / clkTck, nil
}

// brokerPID is the pid of the local broker that deploy/local/kafka.sh
// started (its pid file under LOCKSTEP_LOCAL_DIR, default <repo>/.local),
// so that its CPU can be counted too; 0 when there is none (a broker
// elsewhere).
func brokerPID(b *testing.B) int {
	dir := os.Getenv("LOCKSTEP_LOCAL_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", ".local")
	}
	raw, err := os.ReadFile(filepath.Join(dir, "kafka", "kafka.pid"))
	if err != nil {
		b.Logf("broker CPU not measured: %v", err)
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		b.Logf("broker CPU not measured: pid file: %v", err)
		return 0
	}
	if _, err := procCPU(pid); err != nil {
		b.Logf("broker CPU not measured: %v", err)
		return 0
	}
	return pid
}

// procCPUOr0 is procCPU, 0 for no process.
func procCPUOr0(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	d, _ := procCPU(pid)
	return d
}

// startCPUProfile profiles this process while lockstep runs when
// LOCKSTEP_BENCH_CPUPROFILE names a file; it returns the stop.
func startCPUProfile(b *testing.B) func() {
	path := os.Getenv("LOCKSTEP_BENCH_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// procHWM is a process's peak RSS in MiB from /proc/<pid>/status.
func procHWM(pid int) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// readDump reads the peer's levels dump: "key on_hand allocated held".
func readDump(path string) (map[string]stock.Stock, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]stock.Stock{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 4 {
			continue
		}
		var s stock.Stock
		var errs [3]error
		s.OnHand, errs[0] = strconv.ParseInt(f[1], 10, 64)
		s.Allocated, errs[1] = strconv.ParseInt(f[2], 10, 64)
		s.Held, errs[2] = strconv.ParseInt(f[3], 10, 64)
		for _, e := range errs {
			if e != nil {
				return nil, fmt.Errorf("line %q: %w", line, e)
			}
		}
		out[f[0]] = s
	}
	return out, nil
}
