package hostsvc

import "sync"

// tailBuffer keeps the last max bytes written to it. It is safe for
// concurrent use (os/exec writes from its copying goroutine while a kill may
// be in progress).
type tailBuffer struct {
	mu    sync.Mutex
	max   int
	buf   []byte
	total int64
}

func newTail(max int) *tailBuffer { return &tailBuffer{max: max} }

// Write always succeeds: output beyond the tail is dropped, never blocks the
// writer.
func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	t.total += int64(n)
	if t.max <= 0 {
		return n, nil
	}
	if n >= t.max {
		t.buf = append(t.buf[:0], p[n-t.max:]...)
		return n, nil
	}
	if len(t.buf)+n > 2*t.max {
		// Compact: keep what is still needed, so the buffer stays <= 2*max.
		keep := t.max - n
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-keep:]...)
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

// Bytes returns a copy of the last max bytes.
func (t *tailBuffer) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.max <= 0 {
		return nil
	}
	b := t.buf
	if len(b) > t.max {
		b = b[len(b)-t.max:]
	}
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}
