package s3blob

import (
	"crypto/rand"
	"testing"

	"github.com/minio/crc64nvme"
)

func TestCRC64CombineIsTheCRCOfTheConcatenation(t *testing.T) {
	data := make([]byte, 1<<20+777)
	rand.Read(data)
	for _, cut := range []int{0, 1, 63, 64, 4096, 1 << 19, len(data) - 1, len(data)} {
		a, b := data[:cut], data[cut:]
		got := crc64Combine(crc64nvme.Checksum(a), crc64nvme.Checksum(b), int64(len(b)))
		if want := crc64nvme.Checksum(data); got != want {
			t.Errorf("cut at %d: combined %016x, want %016x", cut, got, want)
		}
	}
	if got := crc64Combine(0, 0, 0); got != 0 {
		t.Errorf("two empty pieces combine to %016x, want 0", got)
	}
}
