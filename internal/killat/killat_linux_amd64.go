//go:build linux && amd64

package killat

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
)

// sysRenameat2 is renameat2's system call number on linux/amd64 (the
// syscall package has no constant for it).
const sysRenameat2 = 316

// ptraceExitKill is PTRACE_O_EXITKILL: the tracee dies with its tracer.
const ptraceExitKill = 0x100000

// AtRename starts cmd under ptrace, calls started (when not nil) with the
// child's process ID, and follows every thread's system calls until the
// process is gone. When a thread enters rename, renameat or renameat2 and
// cut returns true for the call's source path, AtRename SIGKILLs the
// process while that thread is stopped at the entry, so the rename never
// runs, and returns that path once the process is gone; cut is not called
// again after it returned true. A process that ends without a cut is an
// error that says how it ended. AtRename waits for cmd itself: do not call
// cmd.Wait. It sets cmd.SysProcAttr, and holds its goroutine on one OS
// thread while it runs (ptrace takes requests only from the thread that
// started the tracee), so run it on a goroutine of its own when the caller
// has work to do meanwhile.
func AtRename(cmd *exec.Cmd, started func(pid int), cut func(from string) bool) (string, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmd.SysProcAttr = &syscall.SysProcAttr{Ptrace: true}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	pid := cmd.Process.Pid
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, syscall.WALL, nil); err != nil { // the stop after exec
		_ = cmd.Process.Kill()
		return "", fmt.Errorf("killat: wait for the child's first stop: %w", err)
	}
	if err := syscall.PtraceSetOptions(pid, syscall.PTRACE_O_TRACESYSGOOD|syscall.PTRACE_O_TRACECLONE|ptraceExitKill); err != nil {
		_ = cmd.Process.Kill()
		return "", fmt.Errorf("killat: ptrace options: %w (is ptrace allowed here? see /proc/sys/kernel/yama/ptrace_scope)", err)
	}
	if started != nil {
		started(pid)
	}
	if err := syscall.PtraceSyscall(pid, 0); err != nil {
		_ = cmd.Process.Kill()
		return "", fmt.Errorf("killat: resume the child: %w", err)
	}
	inCall := map[int]bool{} // thread -> stopped between a system call's entry and exit
	known := map[int]bool{pid: true}
	cutAt := ""
	for {
		tid, err := syscall.Wait4(-1, &ws, syscall.WALL, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			break // ECHILD: every thread is gone
		}
		if ws.Exited() || ws.Signaled() {
			if tid == pid {
				break
			}
			continue
		}
		if !ws.Stopped() {
			continue
		}
		sig := ws.StopSignal()
		deliver := 0
		switch {
		case sig == syscall.SIGTRAP|0x80: // a system call's entry or exit
			inCall[tid] = !inCall[tid]
			if inCall[tid] && cutAt == "" {
				if from := renameSource(tid); from != "" && cut(from) {
					cutAt = from
					_ = syscall.Kill(pid, syscall.SIGKILL)
					continue // not resumed: the rename never runs
				}
			}
		case sig == syscall.SIGTRAP && ws.TrapCause() > 0: // a new thread
		case sig == syscall.SIGSTOP && !known[tid]: // a new thread's first stop
		default:
			deliver = int(sig) // the child's own signals (the Go runtime's SIGURG, ...)
		}
		known[tid] = true
		_ = syscall.PtraceSyscall(tid, deliver)
	}
	werr := cmd.Wait()
	if cutAt == "" {
		return "", fmt.Errorf("killat: the process ended before the rename to cut (%v, last stop %#x)", werr, uint32(ws))
	}
	return cutAt, nil
}

// renameSource returns the source path of the rename, renameat or
// renameat2 the stopped thread tid is entering, or "".
func renameSource(tid int) string {
	var regs syscall.PtraceRegs
	if syscall.PtraceGetRegs(tid, &regs) != nil {
		return ""
	}
	var addr uint64
	switch regs.Orig_rax {
	case syscall.SYS_RENAME:
		addr = regs.Rdi
	case syscall.SYS_RENAMEAT, sysRenameat2:
		addr = regs.Rsi
	default:
		return ""
	}
	var out []byte
	buf := make([]byte, 256)
	for len(out) < 4096 {
		n, err := syscall.PtracePeekData(tid, uintptr(addr)+uintptr(len(out)), buf)
		if n > 0 {
			if i := bytes.IndexByte(buf[:n], 0); i >= 0 {
				return filepath.Clean(string(append(out, buf[:i]...)))
			}
			out = append(out, buf[:n]...)
		}
		if err != nil || n == 0 {
			break
		}
	}
	return ""
}
