"""Control-plane and node components: stop, start, kill, observe."""
