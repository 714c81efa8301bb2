package main

import (
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// bpfLoad loads (BPF_PROG_LOAD) the smallest socket filter and closes it.
func bpfLoad() error {
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.SocketFilter,
		Instructions: asm.Instructions{asm.LoadImm(asm.R0, 0, asm.DWord), asm.Return()},
		License:      "Apache-2.0",
	})
	if err != nil {
		return err
	}
	return p.Close()
}
