package stack

import "syscall"

// childAttr makes a child die with this process even if it is killed
// (Linux's parent-death signal), so nothing is left running.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
