"""GitHub protocol core: webhook signatures, event parsing and routing, the API client."""
