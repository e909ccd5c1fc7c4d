"""The provisioning activity log: what each SCIM request changed, or why it failed.

``password`` never reaches the log, nor does any attribute named like a secret, and API keys
in a stored text are cut to their shown prefix (:func:`hostsync.store.redaction.redact_keys`).
"""
