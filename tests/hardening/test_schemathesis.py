"""Item 3: schemathesis against the served /openapi.json, in process: no server error.

Each operation of the document gets its own Hypothesis run of schemathesis-generated cases
(bodies, parameters, headers), sent through the whole app with a valid tenant key (the kiosk
API's operations with a valid kiosk secret).
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error

from hostsync.config import Settings
from hostsync.store.database import Database
from hostsync.store.frontdesk.sites import create_kiosk, create_site
from hostsync.web.app import create_app

from .conftest import new_tenant
from .fuzzstats import COUNTS, record

EXAMPLES_PER_OPERATION = 10


def test_api_has_no_server_error(database: Database) -> None:
    """Every generated request of every operation gets an answer below 500."""
    app = create_app(Settings(key_cache_seconds=60, rate_limit="none"), database)
    tenant_id, key = new_tenant(database, "Schemathesis")
    with database.connect(write=True) as connection:
        site = create_site(connection, tenant_id, "Fuzzed lobby")
        _, kiosk_secret = create_kiosk(connection, tenant_id, site.id, "Fuzz")
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    for operation in operations:
        # The kiosk API takes a kiosk's secret, the SCIM API the tenant's key.
        secret = kiosk_secret if operation.path.startswith("/v1/kiosk/") else key
        headers = {"Authorization": f"Bearer {secret}"}

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,  # correctness, not speed: a stall on a busy machine is no failure
            suppress_health_check=list(HealthCheck),
            database=None,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: fail fast
        )
        def run(case: schemathesis.Case) -> None:
            response = case.call(headers=headers)  # noqa: B023 - run() runs in this turn
            record(response.status_code)
            COUNTS["schemathesis"] += 1
            case.validate_response(response, checks=[not_a_server_error])

        run()
