"""The job file: the minimal form, defaults, overrides, and errors that name the key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hostsync.engine.errors import JobFileError
from hostsync.engine.jobs import load_job, parse_job
from hostsync.engine.mappings import MappingType
from hostsync.engine.wire import Dialect

FIXTURES = Path(__file__).parent.parent / "fixtures" / "engine"
HEAD = """scope = "assigned"
[target]
tenant_url = "http://127.0.0.1:8000/v1/usersync/SCIM"
secret_token = "t"
[source]
type = "csv"
path = "hr.csv"
"""


def test_minimal_job_gets_entra_defaults(tmp_path: Path) -> None:
    """The issue's minimal job loads, with Entra's default mappings and settings."""
    shutil.copy(FIXTURES / "minimal-job.toml", tmp_path / "job.toml")
    job = load_job(tmp_path / "job.toml")
    assert job.config.scope == "assigned"
    assert job.source_path == (tmp_path / "directory.json").resolve()
    targets = [m.name for m in job.user_mappings]
    assert targets[:2] == ["userName", "active"]
    assert "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager" in targets
    assert [m.name for m in job.group_mappings] == ["displayName", "externalId", "members"]
    assert job.settings.dialect is Dialect.COMPLIANT
    assert job.settings.deletion_threshold == 500
    assert job.state_path.name == "job.toml.state.json"
    assert job.secret_token({"HOSTSYNC_TARGET_TOKEN": "hsk_x"}) == "hsk_x"


def test_missing_token_variable_is_named(tmp_path: Path) -> None:
    """An unset secret_token_env names the key and the variable."""
    shutil.copy(FIXTURES / "minimal-job.toml", tmp_path / "job.toml")
    job = load_job(tmp_path / "job.toml")
    with pytest.raises(JobFileError, match=r"target\.secret_token_env: .*HOSTSYNC_TARGET_TOKEN"):
        job.secret_token({})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (HEAD.replace("tenant_url", "tenant_ur"), r"target.tenant_ur: unknown key"),
        (HEAD.replace('scope = "assigned"', 'scope = "some"'), r"scope: Input should be"),
        (HEAD.replace('scope = "assigned"\n', ""), r"scope: required key is missing"),
        (HEAD + "[settings]\nconcurrency = 0\n", r"settings.concurrency: .*greater than"),
        (HEAD + '[settings]\ndialect = "rfc"\n', r"settings.dialect: "),
        (HEAD + '[settings.smtp]\nport = "x"\n', r"settings.smtp.port: "),
        (HEAD.replace('secret_token = "t"', ""), r"target: .*exactly one of"),
        (HEAD.replace('type = "csv"', 'type = "ldap"'), r"source.type: "),
        (
            HEAD + "[[users.scoping_filters]]\nclauses = [{attribute='a', operator='EQUAL'}]\n",
            r"users.scoping_filters\[0\].clauses\[0\].operator: unknown scoping operator",
        ),
        (
            HEAD + "[[users.mappings]]\ntarget = 'title'\nexpression = 'Left([a]'\n",
            r"users.mappings\[0\]: mapping 'title': expected",
        ),
        (
            HEAD + "[[users.mappings]]\ntarget = 'title'\nsource = 'a'\nconstant = 'b'\n",
            r"users.mappings\[0\]: .*not several",
        ),
        (
            HEAD + "[[users.mappings]]\ntarget = 'userName'\nsource = 'mail'\n",
            r"users.mappings: no mapping has 'match' set",
        ),
        ("scope = [", r"not valid TOML"),
    ],
)
def test_bad_job_names_the_key(text: str, message: str) -> None:
    """Every mistake is reported with the job file's name and the key at fault."""
    with pytest.raises(
        JobFileError, match=rf"^job.toml: {message}" if "TOML" not in message else message
    ):
        parse_job(text, Path("/jobs/job.toml"))


def test_mappings_override_disable_and_add(tmp_path: Path) -> None:
    """A mapping entry replaces the default of the same target; enabled=false removes one."""
    text = HEAD + (
        "[[users.mappings]]\ntarget = 'externalId'\nsource = 'objectId'\n"
        "[[users.mappings]]\ntarget = 'title'\nenabled = false\n"
        "[[users.mappings]]\ntarget = 'nickName'\nconstant = 'host'\napply = 'create'\n"
    )
    job = parse_job(text, tmp_path / "job.toml")
    by_name = {m.name: m for m in job.user_mappings}
    assert by_name["externalId"].source == "objectId"
    assert "title" not in by_name
    assert by_name["nickName"].type is MappingType.CONSTANT


def test_digest_changes_with_mappings_only(tmp_path: Path) -> None:
    """Changing a mapping changes the digest; changing the rate does not."""
    base = parse_job(HEAD, tmp_path / "job.toml").digest()
    rate = parse_job(HEAD + "[settings]\nrequests_per_second = 5\n", tmp_path / "j.toml")
    mapped = parse_job(
        HEAD + "[[users.mappings]]\ntarget = 'title'\nconstant = 'x'\n", tmp_path / "job.toml"
    )
    assert rate.digest() == base
    assert mapped.digest() != base
