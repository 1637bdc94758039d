package app

import "syscall"

// syscallZero probes a process without signalling it.
var syscallZero = syscall.Signal(0)
