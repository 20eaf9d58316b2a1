"""The JSON API (v1): `marketplace` (Api-Key) and `freelancer` (the link's Bearer token). One
view per operation, each with its own input and output serializers, each making one call into
the domain."""
