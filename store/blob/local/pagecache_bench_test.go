//go:build linux

package local

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BenchmarkWriteback writes 256 MiB into a new file in MiB pieces from an
// aligned buffer, then fsyncs it: with direct I/O (the store's way for
// large files) and through the page cache (its way before, in 256 KiB
// writes). Besides the time it reports the process's CPU per op
// (cpu-ms/op, user and system: the page cache's copy, allocation and
// writeback are system time), which is what the server's hash competes
// with for the CPUs.
//
//	go test -run '^$' -bench Writeback -benchtime 3x ./store/blob/local
func BenchmarkWriteback(b *testing.B) {
	const size = 256 << 20
	buf := *alignedBuf(stageSize)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	for _, mode := range []struct {
		name     string
		noDirect bool
	}{{"direct", false}, {"pagecache", true}} {
		b.Run(mode.name, func(b *testing.B) {
			dir := b.TempDir()
			b.SetBytes(size)
			var cpu time.Duration
			for b.Loop() {
				syscall.Sync()
				f, err := os.Create(filepath.Join(dir, "data"))
				if err != nil {
					b.Fatal(err)
				}
				c0 := cpuTime()
				wb := writeback{noDirect: mode.noDirect}
				for off := 0; off < size; off += len(buf) {
					if _, err := wb.writeAt(f, 0, buf); err != nil {
						b.Fatal(err)
					}
				}
				if err := wb.flush(f, 0); err != nil {
					b.Fatal(err)
				}
				if err := f.Sync(); err != nil {
					b.Fatal(err)
				}
				cpu += cpuTime() - c0
				f.Close()
				os.Remove(f.Name())
			}
			b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
		})
	}
}

// cpuTime is the process's CPU time so far, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
