// Package killat kills a child process at an exact point of its work: on
// entering the system call that would make that work durable. Crash tests
// use it to cut a commit where a random SIGKILL lands once in hundreds of
// runs. It traces the child with ptrace and exists on linux/amd64 only
// (killat_linux_amd64.go); elsewhere the package is empty and the tests
// that use it are not built.
package killat
