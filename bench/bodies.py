"""What the seeders create: Entra-shaped user bodies and the group sizes (no hostsync import,
so bench/scim2_app.py can use it in scim2-server's virtual environment)."""

from __future__ import annotations

from typing import Any

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
DEPARTMENTS = ("Engineering", "Sales", "Finance", "Facilities", "Legal", "Reception")
BIG_GROUP_MEMBERS = 50_000
SMALL_GROUP_MEMBERS = 10
CHUNK = 5_000


def user_name(index: int) -> str:
    """The seeded userName of user ``index`` (also used by the create scenario's prefix)."""
    return f"host{index:07d}@contoso.example"


def user_body(index: int) -> dict[str, Any]:
    """An Entra-shaped POST /Users body (strings for booleans, as Entra sends them)."""
    given, family = f"Given{index}", f"Family{index % 977}"
    return {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "externalId": f"ext-{index:07d}",
        "userName": user_name(index),
        "active": "True",
        "displayName": f"{given} {family}",
        "name": {"formatted": f"{given} {family}", "givenName": given, "familyName": family},
        "emails": [{"primary": True, "type": "work", "value": user_name(index)}],
        "title": "Host",
        "phoneNumbers": [{"type": "work", "value": f"+1 555 {index % 10_000:04d}"}],
        ENTERPRISE: {
            "department": DEPARTMENTS[index % len(DEPARTMENTS)],
            "employeeNumber": str(index),
        },
    }
