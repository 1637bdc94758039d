// Package procstat reads this process's CPU time and resident memory, for
// the loadtest's account of what tapline costs. In the embedded setup the
// process holds everything: the load generator, the NATS server, the
// pipeline and the ClickHouse engine (whose work runs partly on its own
// threads and partly on Go threads inside cgo calls), so the figures are
// the sum of all of them. Linux only (/proc and getrusage).
package procstat

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// Sample is one reading.
type Sample struct {
	// At is when it was taken.
	At time.Time
	// CPU is the user plus system CPU time the process used since it
	// started, over all its threads.
	CPU time.Duration
	// RSS is the resident set size now (VmRSS), HWM the highest it has been
	// (VmHWM), in bytes.
	RSS, HWM uint64
	// Threads is the number of threads now.
	Threads int
}

// Read takes a sample of the calling process.
func Read() (Sample, error) {
	s := Sample{At: time.Now()}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return s, fmt.Errorf("procstat: getrusage: %w", err)
	}
	s.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return s, fmt.Errorf("procstat: %w (the loadtest measures memory on Linux only)", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok {
			continue
		}
		switch string(k) {
		case "VmRSS":
			s.RSS = kib(v)
		case "VmHWM":
			s.HWM = kib(v)
		case "Threads":
			s.Threads, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	return s, nil
}

// kib parses "   123456 kB" into bytes.
func kib(v []byte) uint64 {
	f := bytes.Fields(v)
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.ParseUint(string(f[0]), 10, 64)
	return n * 1024
}

// CPUPercent returns the CPU used between a and b as a percentage of one
// core (200 means two cores busy all the time).
func CPUPercent(a, b Sample) float64 {
	wall := b.At.Sub(a.At)
	if wall <= 0 {
		return 0
	}
	return 100 * float64(b.CPU-a.CPU) / float64(wall)
}

// Machine is the CPU time of the whole machine, all cores, from /proc/stat.
type Machine struct {
	// At is when it was taken.
	At time.Time
	// Busy is the time the cores spent neither idle nor waiting for I/O;
	// Steal the time the hypervisor gave to other guests.
	Busy, Steal time.Duration
}

// ReadMachine takes a sample of the machine's CPU time.
func ReadMachine() (Machine, error) {
	m := Machine{At: time.Now()}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return m, fmt.Errorf("procstat: %w (the loadtest measures the machine on Linux only)", err)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 9 || string(f[0]) != "cpu" {
		return m, fmt.Errorf("procstat: unexpected /proc/stat line %q", line)
	}
	// user nice system idle iowait irq softirq steal, in clock ticks
	// (USER_HZ, 100 on Linux).
	var v [8]uint64
	for i := range v {
		v[i], _ = strconv.ParseUint(string(f[i+1]), 10, 64)
	}
	const tick = 10 * time.Millisecond
	m.Busy = time.Duration(v[0]+v[1]+v[2]+v[5]+v[6]) * tick
	m.Steal = time.Duration(v[7]) * tick
	return m, nil
}

// MachinePercent returns the machine's busy CPU between a and b as a
// percentage of one core.
func MachinePercent(a, b Machine) float64 {
	wall := b.At.Sub(a.At)
	if wall <= 0 {
		return 0
	}
	return 100 * float64(b.Busy-a.Busy) / float64(wall)
}
