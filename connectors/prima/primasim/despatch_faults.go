package primasim

import (
	"crypto/sha256"
	"encoding/binary"
	"maps"
	"slices"

	"github.com/lockstep-dev/lockstep/connectors/simkit"
)

// DespatchFaults are the despatch note faults, beside simkit's HTTP
// faults (Faults), for the demo of what only reading Prima back catches.
type DespatchFaults struct {
	// DropFraction of the references are dropped silently: every
	// NewDespatchNote with one of them passes Prima's checks, is answered
	// OK with a note id, and stores nothing, each time it is posted. A
	// writer sees success; only the note's absence from DespatchNotes and
	// from the modified-since feed tells. Which references is a seeded
	// hash of the reference, so a run picks the same ones every time, and
	// whatever order the posts come in.
	DropFraction float64 `json:"drop_fraction"`
	// Seed picks the references; 0 is the simulator's Seed.
	Seed uint64 `json:"seed,omitempty"`
}

// SetDespatchFaults replaces the despatch note faults (POST
// /_sim/faults/despatch). It refuses a fraction outside [0, 1].
func (s *Server) SetDespatchFaults(f DespatchFaults) (DespatchFaults, error) {
	if err := simkit.Fractions(f.DropFraction); err != nil {
		return f, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.despatchFaults = f
	return f, nil
}

// DespatchFaults returns the despatch note faults in force.
func (s *Server) DespatchFaults() DespatchFaults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.despatchFaults
}

// DropsDespatch reports whether the faults in force drop posts of ref:
// what the demo may ask before it runs, to know which shipments to expect
// a missing_despatch discrepancy for.
func (s *Server) DropsDespatch(ref string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropsDespatch(ref)
}

// dropsDespatch is DropsDespatch under s.mu.
func (s *Server) dropsDespatch(ref string) bool {
	f := s.despatchFaults
	if f.DropFraction <= 0 {
		return false
	}
	seed := f.Seed
	if seed == 0 {
		seed = s.opts.Seed
	}
	// SHA-256 rather than a cheaper hash: FNV's high bits barely move
	// when only a reference's last characters do (S01, S02...), and
	// would pick all of a run of references or none.
	h := sha256.New()
	_ = binary.Write(h, binary.BigEndian, seed)
	_, _ = h.Write([]byte(ref))
	// The top 53 bits as a fraction in [0, 1), as rand's Float64 does.
	return float64(binary.BigEndian.Uint64(h.Sum(nil))>>11)/(1<<53) < f.DropFraction
}

// DroppedDespatchPosts returns, sorted, the references whose posts the
// drop fault actually dropped (answered OK, stored nothing): the ground
// truth a check of missing despatch notes compares with. A reference
// dropped and later made by hand is still listed.
func (s *Server) DroppedDespatchPosts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.st.despatch.dropped))
}

// DespatchNotesFor returns the notes with reference ref, in the order they
// were made: more than one is a duplicate.
func (st State) DespatchNotesFor(ref string) []DespatchNote {
	var out []DespatchNote
	for _, n := range st.DespatchNotes {
		if n.Reference == ref {
			out = append(out, n)
		}
	}
	return out
}
