package fsm

import "runtime"

// goid returns the current goroutine's id, parsed from the first line of
// its stack trace ("goroutine 123 [running]:"). It is used only to
// recognise a call made from the machine's own goroutine, which must not
// block waiting for that goroutine (see [ErrDeferred]), and only while the
// machine runs user code, so its cost is paid by few calls.
func goid() uint64 {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	const prefix = "goroutine "
	if n <= len(prefix) {
		return 0
	}
	var id uint64
	for _, c := range buf[len(prefix):n] {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + uint64(c-'0')
	}
	return id
}
