"""Small dataclasses and plain async SQL functions; each takes the connection first."""
