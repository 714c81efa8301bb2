package guard

// The guard object and its Go bindings are generated from bpf/guard.bpf.c and
// committed, so building Saker needs no clang. `make generate` refreshes them.
//go:generate go tool bpf2go -tags linux -target bpfel -type hold guard ../../../bpf/guard.bpf.c -- -O2 -g -Wall -D__TARGET_ARCH_x86 -I../../../bpf/include -I../../../bpf
