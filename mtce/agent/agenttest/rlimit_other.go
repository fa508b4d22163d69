//go:build !unix

package agenttest

// raiseNoFile does nothing where RLIMIT_NOFILE does not exist.
func raiseNoFile(uint64) error { return nil }
