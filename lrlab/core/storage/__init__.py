"""Storage: session files (their writer, reader and migrations), the session library and
exports. Imports declarations and the engine (a session holds snapshots of torch state)."""
