"""The Litestar app: controllers, schemas, auth and the spec's envelopes."""
