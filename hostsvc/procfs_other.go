//go:build !linux

package hostsvc

import "time"

func setSubreaper() error { return ErrSubreaperUnsupported }

func (l *ExecLauncher) killMarked(string) bool       { return false }
func (l *ExecLauncher) adoptMarked(string)           {}
func (l *ExecLauncher) reapAdopted()                 {}
func (l *ExecLauncher) sweep(int, string, time.Time) {}
