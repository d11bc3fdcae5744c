"""`python -m pipeline`: parsing, one module per command group, rendering. Nothing imports it."""
