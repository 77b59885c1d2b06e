package imageconfig

import "container/heap"

// kept is the smallest keys of an object read as a stream, as many as fit
// in a byte budget and a count: those past the first that does not fit
// are dropped, whatever order they come in, holding no more than the
// budget (and one entry) meanwhile.
type kept struct {
	items keyHeap // largest key on top
	bytes int
	// bound is the smallest key dropped: a key at or past it is dropped
	// too, so that what is kept stays the first keys in order.
	bound   string
	dropped bool
}

// past reports whether key (cut to n bytes, as kept) is at or past the
// bound, and so dropped without being kept.
func (k *kept) past(key []byte, n int) bool {
	if !k.dropped {
		return false
	}
	if len(key) > n {
		return cutAt(key, n) >= k.bound
	}
	return string(key) >= k.bound // compared, not copied
}

// add keeps key, of size bytes.
func (k *kept) add(key string, size int) {
	heap.Push(&k.items, keyed{key: key, size: size})
	k.bytes += size
}

// resize counts key, kept already, at its new size (a name repeated in
// the config: the last value wins, as in encoding/json).
func (k *kept) resize(key string, size int) {
	for i, it := range k.items {
		if it.key == key {
			k.bytes += size - it.size
			k.items[i].size = size
			return
		}
	}
}

// over drops the largest keys until what is kept fits in budget bytes
// and count keys, and returns them.
func (k *kept) over(budget, count int) []string {
	var out []string
	for k.items.Len() > 0 && (k.bytes > budget || k.items.Len() > count) {
		it := heap.Pop(&k.items).(keyed)
		k.bytes -= it.size
		if !k.dropped || it.key < k.bound {
			k.bound = it.key
		}
		k.dropped = true
		out = append(out, it.key)
	}
	return out
}

// keyed is a key kept and its size.
type keyed struct {
	key  string
	size int
}

// keyHeap is a max-heap of keys (container/heap).
type keyHeap []keyed

func (h keyHeap) Len() int           { return len(h) }
func (h keyHeap) Less(i, j int) bool { return h[i].key > h[j].key }
func (h keyHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *keyHeap) Push(x any)        { *h = append(*h, x.(keyed)) }
func (h *keyHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
