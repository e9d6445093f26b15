package kustomize

import (
	"crypto/sha256"
	"sync"
)

// Cache remembers build outputs by their inputs: the bytes of every file a
// build read and every directory listing it made. A lookup replays those
// reads on the new tree and reuses the output only when all of them hash
// the same, so a hit gives exactly what a fresh build would. It is safe for
// concurrent use. It keeps the latest build per directory and options.
type Cache struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]*result
	hits    int64
	misses  int64
}

// NewCache returns an empty Cache.
func NewCache() *Cache {
	return &Cache{entries: map[[sha256.Size]byte]*result{}}
}

// Stats returns how many lookups reused an output and how many did not.
func (c *Cache) Stats() (hits, misses int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses
}

// lookup returns the stored output for key if its inputs still hold and it
// has the form asked for (a Set, or YAML).
func (c *Cache) lookup(key [sha256.Size]byte, cfs *confinedFS, wantSet bool) *result {
	c.mu.Lock()
	res := c.entries[key]
	c.mu.Unlock()
	ok := res != nil && (wantSet && res.set != nil || !wantSet && res.yaml != nil) && cfs.replay(res.inputs)
	c.mu.Lock()
	defer c.mu.Unlock()
	if ok {
		c.hits++
		return res
	}
	c.misses++
	return nil
}

// store records res, merging it with an entry of the same inputs so a
// tree rendered both as objects and as YAML keeps both forms.
func (c *Cache) store(key [sha256.Size]byte, res *result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.entries[key]; old != nil && sameInputs(old.inputs, res.inputs) {
		merged := *res
		if merged.set == nil {
			merged.set = old.set
		}
		if merged.yaml == nil {
			merged.yaml = old.yaml
		}
		res = &merged
	}
	c.entries[key] = res
}

func sameInputs(a, b []input) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
