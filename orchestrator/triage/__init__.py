"""Why is this PR or run red? Failing checks, their failing steps, and the last log lines."""
