"""The front desk's rules: pure, or behind ports (no SQL, no Starlette, no settings)."""
