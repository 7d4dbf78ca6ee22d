"""Key material and crypto primitives: pure functions, key material passed in."""
