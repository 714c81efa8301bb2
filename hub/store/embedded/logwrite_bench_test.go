package embedded

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkLogWrite prices the log's append of one single-POST alert
// record (1.2 KB) three ways: write(2), as the store does; a copy into a
// shared mapping of a fallocated file whose pages fault in on first touch;
// and the same mapping prefaulted with MAP_POPULATE (its cost, paid at
// mmap time, is outside the timer). It is why the log is not mmap'd
// (README, the embedded store).
func BenchmarkLogWrite(b *testing.B) {
	rec := make([]byte, 1200)
	for i := range rec {
		rec[i] = byte(i)
	}
	b.Run("write", func(b *testing.B) {
		f, err := os.Create(filepath.Join(b.TempDir(), logName))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		b.SetBytes(int64(len(rec)))
		for i := 0; i < b.N; i++ {
			if _, err := f.Write(rec); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, populate := range []bool{false, true} {
		name := "mmap-fault"
		if populate {
			name = "mmap-populated"
		}
		b.Run(name, func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), logName))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			size := int64(b.N)*int64(len(rec)) + 1<<16
			if err := unix.Fallocate(int(f.Fd()), 0, 0, size); err != nil {
				b.Skipf("fallocate: %v", err)
			}
			flags := unix.MAP_SHARED
			if populate {
				flags |= unix.MAP_POPULATE
			}
			m, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ|unix.PROT_WRITE, flags)
			if err != nil {
				b.Fatal(err)
			}
			defer unix.Munmap(m)
			b.SetBytes(int64(len(rec)))
			b.ResetTimer()
			for i, off := 0, 0; i < b.N; i, off = i+1, off+len(rec) {
				copy(m[off:], rec)
			}
		})
	}
}
