package state

import (
	"encoding/binary"
	"errors"
	"time"
)

// ErrBadTimerKey is returned for a timer key shorter than its due time.
var ErrBadTimerKey = errors.New("state: timer key shorter than 8 bytes")

// TimerKey orders timers by due time: 8 bytes of big-endian Unix
// milliseconds (times before 1970 count as 1970), then the timer's own key.
// A timer is due once the clock reaches it, at millisecond granularity:
// a range scan up to TimerKey(now.Add(time.Millisecond), nil) yields exactly
// the timers due at or before now (the bound is exclusive, and a scan up to
// TimerKey(now, nil) would miss those due within now's millisecond). This is
// the same boundary as Expired, so a timer set at an Expiry finds it expired.
func TimerKey(due time.Time, key []byte) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(key)), uint64(max(due.UnixMilli(), 0)))
	return append(b, key...)
}

// SplitTimerKey is the inverse of TimerKey.
func SplitTimerKey(tk []byte) (due time.Time, key []byte, err error) {
	if len(tk) < 8 {
		return time.Time{}, nil, ErrBadTimerKey
	}
	return time.UnixMilli(int64(binary.BigEndian.Uint64(tk))).UTC(), tk[8:], nil
}

// Expiry encodes the time from which a dedupe entry is forgotten.
func Expiry(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(max(t.UnixMilli(), 0)))
}

// Expired reports whether an Expiry value lies at or before now, at
// millisecond granularity. A malformed value counts as expired, so a corrupt
// entry is re-learnt rather than trusted.
func Expired(v []byte, now time.Time) bool {
	if len(v) != 8 {
		return true
	}
	return int64(binary.BigEndian.Uint64(v)) <= now.UnixMilli()
}
