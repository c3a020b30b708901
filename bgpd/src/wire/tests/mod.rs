//! Cross-module codec tests: golden vectors, round trips, error paths.
