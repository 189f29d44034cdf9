//go:build !linux

package stack

import "syscall"

// childAttr puts a child in its own process group. Outside Linux there is
// no parent-death signal: Stop ends the children, but a killed parent
// leaves them running.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
