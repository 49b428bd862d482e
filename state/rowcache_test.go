package state

import (
	"fmt"
	"testing"
)

func TestRowCacheBudget(t *testing.T) {
	c := &rowCache{budget: 20 * (rowOverhead + 8)} // entries of 8 bytes: "k000" and "vvvv"
	for i := range 100 {
		c.add(fmt.Appendf(nil, "k%03d", i), []byte("vvvv"))
		if c.used > c.budget {
			t.Fatalf("after %d adds: %d bytes used, budget %d", i+1, c.used, c.budget)
		}
	}
	if len(c.m) != 20 {
		t.Fatalf("%d entries, want the 20 that fit", len(c.m))
	}
	var sum int64
	for k, v := range c.m {
		sum += int64(len(k)+len(v)) + rowOverhead
	}
	if sum != c.used {
		t.Fatalf("used %d, entries add up to %d", c.used, sum)
	}
	c.add([]byte("big"), make([]byte, c.budget)) // larger than a sixteenth: not cached
	if _, ok := c.get([]byte("big")); ok {
		t.Fatal("a value over the size limit was cached")
	}

	// A value handed out cannot be appended into.
	c.clear()
	v := make([]byte, 2, 16)
	c.add([]byte("k"), v)
	got, _ := c.get([]byte("k"))
	_ = append(got, 'x')
	if v[:3][2] == 'x' {
		t.Fatal("an append to a cached value wrote into the cache")
	}

	// update: only cached keys, new value or gone.
	c.update([]byte("other"), []byte("v"), false)
	if _, ok := c.get([]byte("other")); ok {
		t.Fatal("update cached a key that was not")
	}
	c.update([]byte("k"), []byte("new"), false)
	if got, _ := c.get([]byte("k")); string(got) != "new" {
		t.Fatalf("updated value %q", got)
	}
	c.update([]byte("k"), nil, true)
	if _, ok := c.get([]byte("k")); ok || c.used != 0 {
		t.Fatalf("deleted key still cached (used %d)", c.used)
	}
}
