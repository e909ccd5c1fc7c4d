"""The front desk's rules: kiosk host search, privacy, notifications and their delivery.

What visitors meet: a kiosk finds the *active* hosts of its site, a check-in tells the host,
and the front desk knows who is on site (docs/front-desk.md). This package holds the rules and
the delivery adapters (SMTP, webhooks) behind ports.

It never imports the store, the web layer, the CLI or the settings, and never speaks SQL or
Starlette: the store implements its ports, and the web layer and the CLI pass plain values in.
"""
