//go:build !linux

package perseus

import (
	"context"
	"os"
)

// fileCRC computes the CRC-64/NVME of the first size bytes of f.
func fileCRC(ctx context.Context, f *os.File, size int64) crcResult {
	return readCRC(ctx, f, 0, size, 0)
}
