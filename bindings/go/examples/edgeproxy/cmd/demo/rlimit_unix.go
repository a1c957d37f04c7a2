//go:build unix

package main

import (
	"fmt"
	"syscall"
)

// raiseFileLimit makes sure the process may hold need open files, raising
// the soft limit up to the hard one if it must.
func raiseFileLimit(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("reading the open-files limit: %w", err)
	}
	if lim.Cur >= need {
		return nil
	}
	if lim.Max < need {
		return fmt.Errorf("the open-files limit is %d (hard %d) but the demo needs %d: raise it (ulimit -n) or lower -clients", lim.Cur, lim.Max, need)
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raising the open-files limit to %d: %w", lim.Max, err)
	}
	return nil
}
