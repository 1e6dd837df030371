package recipe

import "sync"

// broadcast is a channel closed at the next change: the caller takes the
// channel, checks the state, and waits on the channel if the state is not
// yet what it wants. Nothing is buffered, so nothing piles up for readers
// that do not wait.
type broadcast struct {
	mu sync.Mutex
	ch chan struct{} // guarded by mu; nil until someone waits
}

func (b *broadcast) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	return b.ch
}

func (b *broadcast) notify() {
	b.mu.Lock()
	if b.ch != nil {
		close(b.ch)
		b.ch = nil
	}
	b.mu.Unlock()
}
