package meta

import "context"

// Watcher is implemented by stores that several processes share and that
// can tell each of them when a record changes: Watch calls fn with the id of
// every file whose status a Transition changed, in any process, until ctx
// ends or the store cannot go on watching (then it returns why). A change
// made while no Watch runs is not replayed, so callers keep a slower check
// of their own as well.
type Watcher interface {
	Watch(ctx context.Context, fn func(id string)) error
}
