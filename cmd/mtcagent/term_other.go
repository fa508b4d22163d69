//go:build !linux

package main

// isTerminal: the table and the prompt are offered on Linux only; other
// systems get plain lines.
func isTerminal(any) bool { return false }

func termSize(any) (cols, rows int) { return 0, 0 }
