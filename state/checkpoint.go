package state

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrBadChangelogKey is returned for a changelog record whose key does not
// name a store.
var ErrBadChangelogKey = errors.New("state: changelog key without store separator")

// Checkpoint is how far a partition's Pebble state has caught up with its
// changelog partition: Offset is the next changelog offset to read, TopicID
// the changelog topic's id when it was written, so that a recreated topic
// (same name, new id) is detected even if it has grown past the offset.
type Checkpoint struct {
	Offset  int64
	TopicID [16]byte
}

// Checkpoint returns partition p's checkpoint; ok is false when the partition
// has never been restored or written here.
func (s *Store) Checkpoint(p int32) (cp Checkpoint, ok bool, err error) {
	v, ok, err := s.get(checkpointKey(p))
	if err != nil || !ok {
		return Checkpoint{}, ok, err
	}
	cp, err = decodeCheckpoint(v)
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("state: partition %d: %w", p, err)
	}
	return cp, true, nil
}

func (c Checkpoint) encode() []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 24), uint64(c.Offset))
	return append(b, c.TopicID[:]...)
}

func decodeCheckpoint(b []byte) (Checkpoint, error) {
	if len(b) != 24 {
		return Checkpoint{}, fmt.Errorf("corrupt checkpoint of %d bytes", len(b))
	}
	var c Checkpoint
	c.Offset = int64(binary.BigEndian.Uint64(b))
	copy(c.TopicID[:], b[8:])
	return c, nil
}

// ChangelogKey is the key of a state entry in the changelog topic: the store
// name, a zero byte, then the key. One changelog topic serves all of a
// processor's stores, and compaction keeps the latest value per entry.
func ChangelogKey(store string, key []byte) []byte {
	b := make([]byte, 0, len(store)+1+len(key))
	b = append(b, store...)
	b = append(b, storeSep)
	return append(b, key...)
}

// SplitChangelogKey is the inverse of ChangelogKey.
func SplitChangelogKey(ck []byte) (store string, key []byte, err error) {
	for i, c := range ck {
		if c == storeSep {
			return string(ck[:i]), ck[i+1:], nil
		}
	}
	return "", nil, ErrBadChangelogKey
}
