"""Click analytics: the click buffer and its flusher, user-agent parsing, visitor hashes."""
