package perseus

import (
	"context"
	"io"
	"os"

	"github.com/minio/crc64nvme"
)

// The CRC-64/NVME of a file UploadFile sends in order (upload_resumable.go):
// from the file mapped into memory on Linux (crc_mmap_linux.go), read
// elsewhere (crc_other.go).

// crcResult is the CRC-64/NVME of a file, or why it is not known.
type crcResult struct {
	crc uint64
	err error
}

// readCRC continues crc, the CRC-64/NVME of the first off bytes of f,
// over the bytes up to size, reading through ReadAt (f's offset is left
// alone).
func readCRC(ctx context.Context, f *os.File, off, size int64, crc uint64) crcResult {
	buf := make([]byte, 1<<20)
	for off < size {
		if ctx.Err() != nil {
			return crcResult{err: ctx.Err()}
		}
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		crc = crc64nvme.Update(crc, buf[:n])
		off += int64(n)
		if err == io.EOF && off < size {
			return crcResult{err: ErrFileChanged}
		}
		if err != nil && err != io.EOF {
			return crcResult{err: err}
		}
	}
	return crcResult{crc: crc}
}
