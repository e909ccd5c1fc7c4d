"""The front desk's rules (issue 20), pure or behind ports: no SQL, no Starlette, no settings."""
