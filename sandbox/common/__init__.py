"""What both sandboxes share: a controllable clock, fault injection, state, and a server."""
