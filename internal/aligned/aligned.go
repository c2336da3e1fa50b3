// Package aligned allocates byte slices at page-aligned addresses, as
// direct I/O (O_DIRECT) asks of the buffers it writes from.
package aligned

import "unsafe"

// Page is the alignment Bytes gives: the page size, a multiple of the
// logical block size of any disk direct I/O meets here.
const Page = 4096

// Bytes returns n bytes beginning at an address aligned to Page, capped
// at n so that appending never moves them.
func Bytes(n int) []byte {
	b := make([]byte, n+Page)
	skip := (Page - int(uintptr(unsafe.Pointer(&b[0]))%Page)) % Page
	return b[skip : skip+n : skip+n]
}

// Is reports whether b begins at an address aligned to Page.
func Is(b []byte) bool { return len(b) > 0 && uintptr(unsafe.Pointer(&b[0]))%Page == 0 }
