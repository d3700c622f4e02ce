"""``opsdash demo``: a realistic fleet on loopback, one tenant for each kind of trouble opsdash detects."""
