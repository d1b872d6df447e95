"""Deploy orchestration: tracked runs (dispatch -> live message -> verdict) and their history."""
