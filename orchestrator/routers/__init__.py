"""HTTP edge: each router adapts requests to a protocol core and back, nothing more."""
