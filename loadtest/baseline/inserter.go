package baseline

import "context"

// Inserter runs one INSERT statement (without a FORMAT clause) fed with
// chunks of data in the named input format, and returns once ClickHouse
// committed it. The chunks are the caller's; an Inserter does not keep
// them. The embedded engine's Pool.InsertStream is one (the loadtest wires
// it); a server target has no such path in tapline.
type Inserter interface {
	InsertRaw(ctx context.Context, stmt, format string, chunks ...[]byte) error
}
