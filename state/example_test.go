package state_test

import (
	"fmt"
	"log"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/lockstep-dev/lockstep/state"
)

// One batch of a processor: stage writes in an overlay, emit them as
// changelog records, apply them with the changelog offset once the Kafka
// transaction has committed, and read them back. A rejected record is rolled
// back to its mark and leaves no trace.
func Example() {
	s, err := state.Open("lockstep", state.Options{FS: vfs.NewMem()})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	const p = 0 // the Kafka partition the batch came from
	o := s.NewOverlay()

	// Record 1: a stock level.
	o.Put(p, "levels", []byte("SKU-1@WH1"), []byte("12"))

	// Record 2: fails validation after writing, so it is rolled back.
	mark := o.Mark()
	o.Put(p, "levels", []byte("SKU-1@WH1"), []byte("-3"))
	o.Rollback(mark)

	// Reads see the staged write; Pebble does not have it yet.
	v, _, _ := o.Get(p, "levels", []byte("SKU-1@WH1"))
	_, inPebble, _ := s.Get(p, "levels", []byte("SKU-1@WH1"))
	fmt.Printf("staged: %s, in pebble: %v\n", v, inPebble)

	// The changelog records that go into the Kafka transaction.
	_ = o.Each(func(p int32, changelogKey, value []byte) error {
		store, key, _ := state.SplitChangelogKey(changelogKey)
		fmt.Printf("changelog record: partition %d, store %s, key %s, value %s\n", p, store, key, value)
		return nil
	})

	// The transaction committed at changelog offset 41: apply.
	if err := o.Apply(map[int32]state.Checkpoint{p: {Offset: 42}}); err != nil {
		log.Fatal(err)
	}
	v, _, _ = s.Get(p, "levels", []byte("SKU-1@WH1"))
	cp, _, _ := s.Checkpoint(p)
	fmt.Printf("applied: %s, checkpoint offset %d, still staged: %d\n", v, cp.Offset, o.Len())

	// Output:
	// staged: 12, in pebble: false
	// changelog record: partition 0, store levels, key SKU-1@WH1, value 12
	// applied: 12, checkpoint offset 42, still staged: 0
}
