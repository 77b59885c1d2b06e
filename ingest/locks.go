package ingest

import "sync"

// uploadLocks serialises the bodies sent to one upload within this
// process: a second PATCH to an upload waits for the first, then finds the
// upload grown and is refused (distribution lets both append at once).
// An entry lives only while a body is being stored.
type uploadLocks struct {
	mu    sync.Mutex
	byKey map[string]*uploadLock
}

type uploadLock struct {
	sync.Mutex
	users int
}

// lock takes key's lock and returns its release.
func (l *uploadLocks) lock(key string) (unlock func()) {
	l.mu.Lock()
	if l.byKey == nil {
		l.byKey = map[string]*uploadLock{}
	}
	e := l.byKey[key]
	if e == nil {
		e = &uploadLock{}
		l.byKey[key] = e
	}
	e.users++
	l.mu.Unlock()
	e.Lock()
	return func() {
		e.Unlock()
		l.mu.Lock()
		if e.users--; e.users == 0 {
			delete(l.byKey, key)
		}
		l.mu.Unlock()
	}
}
