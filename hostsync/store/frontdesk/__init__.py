"""The front desk's storage: sites, kiosks, visits, the notification outbox, host search.

Every function takes the tenant's id and filters by it: a site, kiosk, visit or delivery of
another tenant is never read, changed or counted. Nothing here deletes a host or a visit;
retention anonymises a visit's personal fields instead.
"""
