"""HTTP routes of the node, one module per endpoint family."""
