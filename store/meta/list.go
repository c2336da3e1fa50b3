package meta

import "time"

// ListQuery selects one page of a tenant's records for Store.List.
type ListQuery struct {
	// Status keeps only records in this status; empty keeps all.
	Status Status
	// NamePrefix keeps only records whose name starts with these bytes; empty keeps all.
	NamePrefix string
	// After starts the page just after this position (exclusive); nil starts
	// at the newest record.
	After *Position
	// Limit is the most records returned; it must be at least 1.
	Limit int
}

// Position is a place in List's order (newest first): the CreatedAt and ID
// of a record. A position stays valid when its record is deleted.
type Position struct {
	CreatedAt time.Time
	ID        string
}

// PositionOf returns the position of f in List's order.
func PositionOf(f File) Position { return Position{CreatedAt: f.CreatedAt, ID: f.ID} }
