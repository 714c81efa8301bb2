// Command ruleactor performs one system call behaviour an official Falco
// rule watches for, so the sensor's rule-proof tests can run it on the host
// or, built static, inside a container; the tests link it under the
// process name a rule looks for (sshd, nginx, pkexec…).
//
//	ruleactor listen ADDR [udp]   listen (print "listening"), take one connection or datagram
//	ruleactor connect ADDR [udp]  connect and send a byte
//	ruleactor dup ADDR            connect, then dup the socket onto stdout
//	ruleactor spawn CMD ARGS…     run a child and wait for it
//	ruleactor open PATH MODE      open PATH: r, w, creat-exec (O_CREAT mode 0755)
//	ruleactor open-after DUR PATH wait DUR, then open PATH for reading
//	ruleactor setns | unshare | traceme | ptrace-attach | packet-socket | userfaultfd | bpf-load
//	ruleactor setuid UID
//	ruleactor reopen PATH         open PATH, then open it again for writing through /proc/self/fd/N
//
// With no argument, or a first argument that is not an action, it does
// nothing: the execve with its name, arguments and environment is the
// behaviour (pkexec with no argument, sudoedit -s '\\').
package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		return
	}
	if err := act(os.Args[1], os.Args[2:]); err != nil {
		fail(fmt.Errorf("%s: %w", os.Args[1], err))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "ruleactor:", err)
	os.Exit(1)
}

func arg(args []string, i int) string {
	if i < len(args) {
		return args[i]
	}
	fail(fmt.Errorf("missing argument %d", i+1))
	return ""
}

func act(action string, args []string) error {
	switch action {
	case "reopen":
		fd, err := unix.Open(arg(args, 0), unix.O_RDONLY, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		// CVE-2019-5736's shape: a write open through /proc/self/fd.
		return open("/proc/self/fd/"+strconv.Itoa(fd), "w")
	case "listen":
		return listen(arg(args, 0), len(args) > 1 && args[1] == "udp")
	case "connect":
		network := "tcp4"
		if len(args) > 1 && args[1] == "udp" {
			network = "udp4"
		}
		c, err := net.Dial(network, arg(args, 0))
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("x"))
		return err
	case "dup":
		c, err := net.Dial("tcp4", arg(args, 0))
		if err != nil {
			return err
		}
		defer c.Close()
		f, err := c.(*net.TCPConn).File()
		if err != nil {
			return err
		}
		defer f.Close()
		// A reverse shell's dup2(sock, 1).
		return unix.Dup3(int(f.Fd()), 1, 0)
	case "spawn":
		cmd := exec.Command(arg(args, 0), args[1:]...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil && cmd.ProcessState == nil {
			return err
		}
		return nil
	case "open":
		return open(arg(args, 0), arg(args, 1))
	case "open-after":
		d, err := time.ParseDuration(arg(args, 0))
		if err != nil {
			return err
		}
		time.Sleep(d) // the rule looks at the process's age at the open
		return open(arg(args, 1), "r")
	case "setns":
		fd, err := unix.Open("/proc/self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		runtime.LockOSThread()
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		report(err)
		return nil
	case "unshare":
		runtime.LockOSThread()
		report(unix.Unshare(unix.CLONE_NEWUTS))
		return nil
	case "traceme":
		_, _, e := unix.RawSyscall(unix.SYS_PTRACE, unix.PTRACE_TRACEME, 0, 0)
		report(errnoErr(e))
		return nil
	case "ptrace-attach":
		return ptraceAttach()
	case "packet-socket":
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
		if err != nil {
			return err
		}
		return unix.Close(fd)
	case "userfaultfd":
		const uffdUserModeOnly = 1 // allowed to unprivileged users
		fd, _, e := unix.Syscall(unix.SYS_USERFAULTFD, unix.O_CLOEXEC|uffdUserModeOnly, 0, 0)
		if e != 0 {
			return e
		}
		return unix.Close(int(fd))
	case "bpf-load":
		return bpfLoad()
	case "setuid":
		uid, err := strconv.Atoi(arg(args, 0))
		if err != nil {
			return err
		}
		// The raw call on this thread only: the attempt is the behaviour.
		_, _, e := unix.RawSyscall(unix.SYS_SETUID, uintptr(uid), 0, 0)
		report(errnoErr(e))
		return nil
	}
	return nil
}

func errnoErr(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// report prints the result of an attempt the rule fires on whatever its
// outcome (a container without CAP_SYS_ADMIN is refused setns).
func report(err error) {
	if err != nil {
		fmt.Println("result:", err)
	} else {
		fmt.Println("result: ok")
	}
}

func open(path, mode string) error {
	var flags int
	var perm uint32
	switch mode {
	case "r":
		flags = unix.O_RDONLY
	case "w":
		flags = unix.O_WRONLY
	case "creat-exec":
		flags, perm = unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC, 0o755
	default:
		return fmt.Errorf("mode %q", mode)
	}
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC, perm)
	if err != nil {
		return err
	}
	return unix.Close(fd)
}

func listen(addr string, udp bool) error {
	if udp {
		c, err := net.ListenPacket("udp4", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		fmt.Println("listening")
		_, _, err = c.ReadFrom(make([]byte, 64))
		return err
	}
	ln, err := net.Listen("tcp4", addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Println("listening")
	c, err := ln.Accept()
	if err != nil {
		return err
	}
	c.Read(make([]byte, 1))
	return c.Close()
}

func ptraceAttach() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.Command(self, "open-after", "1h", "/dev/null")
	if err := child.Start(); err != nil {
		return err
	}
	defer func() {
		child.Process.Kill()
		child.Wait()
	}()
	runtime.LockOSThread()
	if err := unix.PtraceAttach(child.Process.Pid); err != nil {
		return err
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(child.Process.Pid, &ws, 0, nil); err != nil {
		return err
	}
	return unix.PtraceDetach(child.Process.Pid)
}
