package stream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lockstep-dev/lockstep/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Timers live in state (the __timers store, keyed by due time then key), so
// they are restored with the partition and fire inside a transaction:
// exactly once, even across crashes and rebalances.

type dueTimer struct {
	partition int32
	tk        []byte // the full timer key
	due       time.Time
	key       []byte
}

// dueTimers lists the owned partitions' timers due at now, at most MaxBatch.
func (p *Processor) dueTimers(now time.Time) ([]dueTimer, error) {
	var out []dueTimer
	hi := state.TimerKey(now.Add(time.Millisecond), nil)
	for _, part := range p.ownedPartitions() {
		var perr error
		err := p.overlay.Range(part, timerStore, nil, hi, func(k, _ []byte) bool {
			due, key, err := state.SplitTimerKey(k)
			if err != nil {
				perr = err
				return false
			}
			out = append(out, dueTimer{partition: part, tk: k, due: due, key: key})
			return len(out) < p.cfg.MaxBatch
		})
		if err = errors.Join(err, perr); err != nil {
			return nil, fmt.Errorf("stream: %s: timers of partition %d: %w", p.topo.Name, part, err)
		}
		if len(out) >= p.cfg.MaxBatch {
			break
		}
	}
	return out, nil
}

func (p *Processor) fireTimer(hctx *Context, pctx context.Context, t dueTimer, promise func(*kgo.Record, error)) error {
	hctx.partition, hctx.out, hctx.err = t.partition, hctx.out[:0], nil
	p.overlay.Delete(t.partition, timerStore, t.tk)
	if bytes.Equal(t.key, sweepKey) {
		return p.sweepSeen(hctx)
	}
	if len(t.key) > 0 && t.key[0] == 0 {
		return p.expireSeen(hctx, t.key[1:]) // a per-id timer of an older version
	}
	if p.timers == nil {
		return nil // a timer from an older version of the handler
	}
	err := p.timers.OnTimer(hctx, t.key, t.due)
	if err == nil {
		err = hctx.err
	}
	if err != nil {
		return fmt.Errorf("stream: %s: timer %q due %s on partition %d: %w", p.topo.Name, t.key, t.due.Format(time.RFC3339Nano), t.partition, err)
	}
	for _, o := range hctx.out {
		p.sess.Produce(pctx, o, promise)
	}
	return nil
}

// sweepKey is the runtime's timer that deletes expired dedupe entries. Its
// zero bytes keep it apart from handler timers (which may not start with
// one) and from older per-id expiry timers (a zero, then a set name).
var sweepKey = []byte{0, 0, 's', 'w', 'e', 'e', 'p'}

// sweepSeen deletes the partition's dedupe entries expired at now, at most
// MaxBatch of them; when more remain it fires again in the next
// transaction.
func (p *Processor) sweepSeen(hctx *Context) error {
	var expired [][]byte
	more := false
	err := p.overlay.Range(hctx.partition, seenStore, nil, nil, func(k, v []byte) bool {
		if !state.Expired(v, hctx.now) {
			return true
		}
		if len(expired) == p.cfg.MaxBatch {
			more = true
			return false
		}
		expired = append(expired, k)
		return true
	})
	if err != nil {
		return fmt.Errorf("stream: %s: sweep dedupe entries of partition %d: %w", p.topo.Name, hctx.partition, err)
	}
	for _, k := range expired {
		p.overlay.Delete(hctx.partition, seenStore, k)
	}
	if more {
		p.overlay.Put(hctx.partition, timerStore, state.TimerKey(hctx.now, sweepKey), nil)
	}
	return nil
}

// expireSeen forgets a dedupe entry unless it was seen again (and so given
// a later expiry) since this timer was set.
func (p *Processor) expireSeen(hctx *Context, k []byte) error {
	v, ok, err := p.overlay.Get(hctx.partition, seenStore, k)
	if err != nil {
		return err
	}
	if ok && state.Expired(v, hctx.now) {
		p.overlay.Delete(hctx.partition, seenStore, k)
	}
	return nil
}
