package probe

// The probe object and its Go bindings are generated from bpf/saker.bpf.c and
// committed, so building Saker needs no clang. `make generate` refreshes them.
//go:generate go tool bpf2go -tags linux -target bpfel -type sk_event -type sk_sock -type sk_type saker ../../bpf/saker.bpf.c -- -O2 -g -Wall -D__TARGET_ARCH_x86 -I../../bpf/include -I../../bpf
