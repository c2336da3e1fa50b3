package s3blob

// CRC-64/NVME of a concatenation from the CRCs of its pieces, as zlib's
// crc32_combine does it for CRC-32: the CRC of A then B is A's CRC
// carried through len(B) zero bytes (multiplied by x^(8·len(B)) modulo the
// polynomial) XOR B's CRC; the initial and final inversions cancel out.

// crc64Poly is CRC-64/NVME's polynomial, reflected.
const crc64Poly = 0x9a6c9329ac4bc9b5

// crc64X2n[k] is x^(2^k) modulo the polynomial, reflected.
var crc64X2n = func() (t [64]uint64) {
	p := uint64(1) << 62 // x^1
	for k := range t {
		t[k] = p
		p = crc64MulModP(p, p)
	}
	return t
}()

// crc64MulModP returns a·b modulo the polynomial, both reflected.
func crc64MulModP(a, b uint64) uint64 {
	var p uint64
	for m := uint64(1) << 63; m != 0; m >>= 1 {
		if a&m != 0 {
			p ^= b
		}
		if b&1 != 0 {
			b = b>>1 ^ crc64Poly
		} else {
			b >>= 1
		}
	}
	return p
}

// crc64Combine returns the CRC-64/NVME of A followed by B from A's CRC, B's
// CRC and B's length in bytes.
func crc64Combine(crcA, crcB uint64, lenB int64) uint64 {
	// op is x^(8·lenB), from x^0 by the binary digits of lenB.
	op := uint64(1) << 63
	for n, k := uint64(lenB), 3; n != 0; n, k = n>>1, k+1 {
		if n&1 != 0 {
			op = crc64MulModP(crc64X2n[k&63], op)
		}
	}
	return crc64MulModP(op, crcA) ^ crcB
}
