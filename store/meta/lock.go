package meta

import "context"

// Locker is implemented by metadata stores that lock names for every
// process sharing the store: while a caller holds the lock on a name, no
// other caller, in this process or another, gets it. A tus upload is
// locked by its id while a request works on it, whichever replica the
// request lands on.
//
// A holder is asked to let go rather than waited out: a resumed upload
// whose previous request is still open (its client gone, its connection
// not yet timed out) would otherwise wait for that request to end.
type Locker interface {
	// Lock takes the lock on name, waiting while another caller holds it
	// until ctx ends; then it returns an error wrapping ctx's and holds
	// nothing. A ctx already ended fails at once, the lock free or not.
	//
	// While it waits, the holder's release (the one given to the Lock
	// that took the lock) is called in the holder's process, on a
	// goroutine of its own, so that the holder lets go soon. It is called
	// at most once for each time the lock is taken, however many wait;
	// release may call unlock, and may be nil.
	//
	// unlock releases the lock; calls after the first do nothing and
	// return nil. A holder whose process ends loses the lock.
	Lock(ctx context.Context, name string, release func()) (unlock func() error, err error)
}
