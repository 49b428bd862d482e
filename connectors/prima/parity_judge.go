package prima

import (
	"time"

	"github.com/lockstep-dev/lockstep/schemas"
)

// The parity check's judgement of one key, kept pure (no I/O, no clock) so
// that it is table-tested.

// keyState is where a Prima SKU@warehouse stands for the parity check.
type keyState string

// Key states, also the metric's labels.
const (
	keyUntracked keyState = "untracked" // lockstep never pushed it: Prima's own figure, not compared
	keyInFlight  keyState = "in_flight" // a push is being sent: Prima may hold either level
	keyFailed    keyState = "failed"    // Prima refused the push: push_failed covers it, the sink retries it
	keySettling  keyState = "settling"  // pushed, within the settle window: the source may not have polled it back
	keyUnknown   keyState = "unknown"   // settled, but no Prima level read for it yet
	keyAgree     keyState = "agree"
	keyDiffer    keyState = "differ"
)

var keyStates = []keyState{keyUntracked, keyInFlight, keyFailed, keySettling, keyUnknown, keyAgree, keyDiffer}

// primaLevel is Prima's level as prima.stock-levels last said it.
type primaLevel struct {
	Available int64
	AsOf      time.Time // Prima's modified stamp
}

// parityKey is everything the check knows of one Prima SKU@warehouse.
type parityKey struct {
	SKU, Warehouse string
	pushed         *pushedLevel // the last push, from lockstep.stock-pushed
	prima          *primaLevel
	open           *parityOpen // the discrepancy as last reported, nil when none
	state          keyState
}

// verdict is the judgement of a key at one instant.
type verdict struct {
	state  keyState
	status schemas.DriftStatus // the event to write; "" for none
	due    time.Time           // when a settling key is to be judged again
}

// judge compares the level lockstep pushed with the level Prima holds once
// the push is done and settled, and the stock-level feed has caught up past
// it (caughtUp, the feed's Cursor.CaughtUpAt): before that, Prima's level
// on the feed may predate the push. A key in flight, settling, or with no
// Prima level yet reports nothing, and leaves an open discrepancy open: it
// is judged again when it settles, the feed catches up or a record about it
// arrives.
func judge(k *parityKey, now, caughtUp time.Time, settle time.Duration) verdict {
	p := k.pushed
	switch {
	case p == nil:
		return verdict{state: keyUntracked}
	case p.State == statePushing:
		return verdict{state: keyInFlight}
	case p.State == stateFailed:
		// Prima never took this level, so a difference is lockstep's
		// failure (push_failed, owner operations), not a change made in
		// Prima: judged again once a retry lands.
		return verdict{state: keyFailed}
	case now.Before(p.At.Add(settle)):
		return verdict{state: keySettling, due: p.At.Add(settle)}
	case caughtUp.Before(p.At):
		return verdict{state: keySettling} // judged again when the feed's cursor moves
	case k.prima == nil:
		return verdict{state: keyUnknown}
	}
	expected, actual := p.Available, k.prima.Available
	if expected == actual {
		if k.open != nil {
			return verdict{state: keyAgree, status: schemas.DriftResolved}
		}
		return verdict{state: keyAgree}
	}
	switch {
	case k.open == nil:
		return verdict{state: keyDiffer, status: schemas.DriftOpen}
	case k.open.Expected != expected || k.open.Actual != actual:
		return verdict{state: keyDiffer, status: schemas.DriftUpdated}
	}
	return verdict{state: keyDiffer}
}

// dueQueue holds the instants at which settling keys are judged, earliest
// first; a key may be queued more than once, judging it again is harmless.
type dueQueue []dueKey

type dueKey struct {
	at  time.Time
	key string
}

func (q dueQueue) Len() int           { return len(q) }
func (q dueQueue) Less(i, j int) bool { return q[i].at.Before(q[j].at) }
func (q dueQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *dueQueue) Push(x any)        { *q = append(*q, x.(dueKey)) }
func (q *dueQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}
