package response

import (
	"os"

	"golang.org/x/sys/unix"
)

// selfAndAncestors is the sensor's PID and those of its ancestors (its
// shell, container shim or init), which no action may kill.
func selfAndAncestors() map[int]bool {
	m := map[int]bool{}
	for pid := os.Getpid(); pid > 1 && !m[pid]; {
		m[pid] = true
		st, err := procStat(pid)
		if err != nil {
			break
		}
		pid = st.ppid
	}
	return m
}

func syscallGetpgrp() int { return unix.Getpgrp() }

func unixSignalName(sig int) string { return unix.SignalName(unix.Signal(sig)) }
