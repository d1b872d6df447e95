"""`store.keys`: the stored layout byte for byte, round trips, time order, and one owner.

The pinned strings below are the layout existing SQLite files and DynamoDB tables
already hold: a change to any of them strands stored data, so it must be deliberate.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from orchestrator.store import keys
from orchestrator.store.base import split_key, split_prefix

T = 1795924950.0  # 2026-11-29 04:02:30 UTC
STAMP = "20261129T040230Z"

# One sample per builder: what it builds, and the exact key stored before keys.py existed.
SAMPLES: dict[str, tuple[str, str]] = {
    "job": (keys.job("ix-123"), "job:ix-123"),
    "job_run": (keys.job_run("ix-123", 2), "jobrun:ix-123.2"),
    "retry_submission": (keys.retry_submission("ix-123", 2), "retrysub:ix-123.2"),
    "retry": (keys.retry(T + 0.9, "ix-123"), "retry:001795924950:ix-123"),
    "schedule_slot": (
        keys.schedule_slot(f"sched-probes.run-{STAMP}"),
        f"schedslot:sched-probes.run-{STAMP}",
    ),
    "audit": (keys.audit(T + 0.25, "a1b2c3"), "audit:20261129T040230.250000Z-a1b2c3"),
    "trace": (keys.trace("42", "1300000000000000000"), "trace:42:1300000000000000000"),
    "delivery": (keys.delivery("72d3162e-cc78"), "delivery:72d3162e-cc78"),
    "run_state": (keys.run_state("acme/web", 7), "runstate:acme/web:7"),
    "job_state": (keys.job_state("acme/web", 9), "jobstate:acme/web:9"),
    "deployment_state": (keys.deployment_state("acme/web", 5), "deploystate:acme/web:5"),
    "redelivery": (keys.redelivery("72d3162e-cc78"), "redelivered:72d3162e-cc78"),
    "reconcile_sweep": (keys.reconcile_sweep(), "reconcile:last"),
    "app_override": (keys.app_override("web"), "appcfg:web"),
    "subscription": (keys.subscription("ab12cd"), "sub:ab12cd"),
    "notified": (keys.notified("72d3162e-cc78", "cfg1"), "notified:72d3162e-cc78.cfg1"),
    "card": (keys.card("cfg1", "Acme/Web", "abc123", 42), "card:cfg1:acme/web:abc123:pr42"),
    "tracked_run": (keys.tracked_run("acme/web", 7), "track:acme/web:7"),
    "tracked_correlation": (keys.tracked_correlation("orc-0123abcd"), "trackcorr:orc-0123abcd"),
    "open_run": (keys.open_run("orc-0123abcd"), "trackopen:orc-0123abcd"),
    "verification": (keys.verification("web", T, "beef"), f"verification:web:{STAMP}-beef"),
    "probe": (keys.probe("web", "api", T), f"probe:web:api:{STAMP}"),
    "probe_state": (keys.probe_state("web", "api"), "probestate:web:api"),
    "incident": (keys.incident("web", "api", T), f"incident:web:{STAMP}-api"),
    "run": (keys.run("web", T, 7, 1), f"runlog:web:{STAMP}-7.1"),
    "relay": (keys.relay("0a1b2c3d4e5f"), "relay:0a1b2c3d4e5f"),
    "relay_sent": (keys.relay_sent("0a1b2c3d4e5f"), "relaysent:0a1b2c3d4e5f"),
    "deploy_lock": (keys.deploy_lock("web", "production"), "deploylock:web:production"),
    "lock_reminder": (
        keys.lock_reminder("web", "production", T),
        f"lockremind:web:production:{STAMP}",
    ),
    "freeze_window": (keys.freeze_window("xmas"), "freeze:xmas"),
    "deploy_slot": (keys.deploy_slot("web", "production"), "deployslot:web:production"),
    "deploy_slot_release": (keys.deploy_slot_release("orc-0123abcd"), "deployfree:orc-0123abcd"),
    "deployment_status": (keys.deployment_status("Acme/Web", 42), "deploystatus:acme/web:42"),
    "auto_rollback": (keys.auto_rollback("orc-0123abcd"), "autorollback:orc-0123abcd"),
    "deploy_queue": (
        keys.deploy_queue("web", "production", T + 0.25, "q1a2b3"),
        "deployq:web:production:20261129T040230.250000Z-q1a2b3",
    ),
    "approval": (keys.approval("0a1b2c3d4e5f"), "approval:0a1b2c3d4e5f"),
    "approval_vote": (
        keys.approval_vote("0a1b2c3d4e5f", "900000000000000002"),
        "approvalvote:0a1b2c3d4e5f:900000000000000002",
    ),
    "approval_end": (keys.approval_end("0a1b2c3d4e5f"), "approvalend:0a1b2c3d4e5f"),
    "button_press": (
        keys.button_press("1300000000000000001", "release.promote:web:abc1234"),
        "press:1300000000000000001:release.promote:web:abc1234",
    ),
}
_NOT_BUILDERS = {"stamp", "day", "days"}


def builders() -> list[str]:
    """The key builders `keys` offers: everything public but parsers, prefixes and time."""
    return sorted(
        name
        for name, value in vars(keys).items()
        if inspect.isfunction(value)
        and value.__module__ == keys.__name__
        and not name.startswith(("_", "parse_"))
        and not name.endswith("_prefix")
        and name not in _NOT_BUILDERS
    )


def collections() -> set[str]:
    return {split_key(built)[0] for built, _ in SAMPLES.values()}


def test_every_builder_has_a_pinned_sample() -> None:
    assert builders() == sorted(SAMPLES)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_keys_are_byte_identical_to_the_stored_layout(name: str) -> None:
    built, stored = SAMPLES[name]
    assert built == stored
    split_key(built)  # and a valid store key


def test_each_builder_owns_its_own_collection() -> None:
    assert len(collections()) == len(SAMPLES)


def test_a_missing_run_id_is_stored_as_zero() -> None:
    assert keys.run("web", T, None, 2) == f"runlog:web:{STAMP}-0.2"


def test_a_first_in_line_queue_key_sorts_before_every_ordinary_one() -> None:
    first = keys.deploy_queue("web", "production", T + 0.25, "q1a2b3", first=True)
    assert first == "deployq:web:production:!20261129T040230.250000Z-q1a2b3"
    earlier = keys.deploy_queue("web", "production", T - 3600, "a")
    later_first = keys.deploy_queue("web", "production", T + 1, "a", first=True)
    assert sorted([earlier, later_first, first]) == [first, later_first, earlier]
    assert first.startswith(keys.deploy_queue_prefix("web", "production"))
    assert keys.parse_deploy_queue(first) == ("web", "production")


def test_the_timestamp_formats() -> None:
    assert keys.stamp(T) == STAMP
    assert keys.stamp(T + 0.25, micros=True) == "20261129T040230.250000Z"
    assert keys.day(T) == "20261129"
    assert keys.stamp(T).startswith(keys.day(T))
    assert keys.stamp(T, micros=True).startswith(keys.stamp(T)[:-1])


# -- prefixes ---------------------------------------------------------------------------------

PREFIXED: list[tuple[str, str]] = [
    (keys.job("x"), keys.JOB_PREFIX),
    (keys.retry(T, "x"), keys.RETRY_PREFIX),
    (keys.audit(T, "x"), keys.AUDIT_PREFIX),
    (keys.subscription("x"), keys.SUBSCRIPTION_PREFIX),
    (keys.app_override("web"), keys.APP_OVERRIDE_PREFIX),
    (keys.open_run("orc-0123abcd"), keys.OPEN_RUN_PREFIX),
    (keys.trace("u", "i"), keys.trace_prefix("u")),
    (keys.verification("web", T, "x"), keys.verification_prefix("web")),
    (keys.verification("web", T, "x"), keys.verification_prefix("web", keys.day(T))),
    (keys.probe("web", "api", T), keys.probe_prefix("web", "api")),
    (keys.probe("web", "api", T), keys.probe_prefix("web", "api", keys.day(T))),
    (keys.probe_state("web", "api"), keys.probe_state_prefix("web")),
    (keys.incident("web", "api", T), keys.incident_prefix("web")),
    (keys.run("web", T, 7, 1), keys.run_prefix("web")),
    (keys.run("web", T, 7, 1), keys.run_prefix("web", keys.day(T))),
    (keys.deploy_lock("web", "prod"), keys.DEPLOY_LOCK_PREFIX),
    (keys.freeze_window("xmas"), keys.FREEZE_PREFIX),
    (keys.deploy_queue("web", "prod", T, "q"), keys.DEPLOY_QUEUE_PREFIX),
    (keys.deploy_queue("web", "prod", T, "q"), keys.deploy_queue_prefix("web", "prod")),
    (keys.approval("r1"), keys.APPROVAL_PREFIX),
    (keys.approval("0a1b2c3d4e5f"), keys.approval_shard_prefix("0")),
    (keys.approval_vote("r1", "42"), keys.approval_vote_prefix("r1")),
]


@pytest.mark.parametrize(("key", "prefix"), PREFIXED)
def test_a_prefix_finds_what_its_builder_wrote(key: str, prefix: str) -> None:
    split_prefix(prefix)  # names a collection, as the DynamoDB backend requires
    assert key.startswith(prefix)


def test_prefixes_do_not_reach_into_other_apps_or_collections() -> None:
    assert not keys.run("web2", T, 7, 1).startswith(keys.run_prefix("web"))
    assert not keys.probe("web", "apiv2", T).startswith(keys.probe_prefix("web", "api"))
    assert not keys.trace("42", "1").startswith(keys.trace_prefix("4"))
    for other in (keys.job_run("x", 1), keys.job_state("acme/web", 1)):
        assert not other.startswith(keys.JOB_PREFIX)
    assert not keys.probe_state("web", "api").startswith(keys.probe_prefix("web", "api"))
    assert not keys.deploy_queue("web", "production", T, "q").startswith(
        keys.deploy_queue_prefix("web", "prod")
    )
    assert not keys.approval_vote("r12", "42").startswith(keys.approval_vote_prefix("r1"))
    assert not keys.approval_vote("r1", "42").startswith(keys.APPROVAL_PREFIX)


# -- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("job_id", ["ix-1300000000000000000", "gh-72d3162e", "sched-p-1:2"])
def test_job_ids_round_trip(job_id: str) -> None:
    assert keys.parse_job(keys.job(job_id)) == job_id


@pytest.mark.parametrize(("due", "job_id"), [(0.0, "a"), (T + 0.9, "ix-1"), (5e10, "a:b")])
def test_retries_round_trip_to_the_whole_second(due: float, job_id: str) -> None:
    assert keys.parse_retry(keys.retry(due, job_id)) == (float(int(due)), job_id)


@pytest.mark.parametrize(
    "key", ["retry:", "retry:12x:job", "retry:0001:", "job:x", "retry:٣:job", "retry:1"]
)
def test_parse_retry_answers_none_for_anything_else(key: str) -> None:
    assert keys.parse_retry(key) is None


def test_subscriptions_app_overrides_and_probe_states_round_trip() -> None:
    assert keys.parse_subscription(keys.subscription("ab12cd")) == "ab12cd"
    assert keys.parse_app_override(keys.app_override("web-2")) == "web-2"
    assert keys.parse_open_run(keys.open_run("orc-0123abcd")) == "orc-0123abcd"
    assert keys.parse_probe_state(keys.probe_state("_orchestrator", "self")) == (
        "_orchestrator",
        "self",
    )
    assert keys.parse_deploy_lock(keys.deploy_lock("web-2", "prod_eu")) == ("web-2", "prod_eu")
    assert keys.parse_deploy_queue(keys.deploy_queue("web", "prod", T, "q1")) == ("web", "prod")


@pytest.mark.parametrize(
    ("parse", "key"),
    [
        (keys.parse_job, "jobrun:x.1"),
        (keys.parse_subscription, "sub2:x"),
        (keys.parse_app_override, "sub:x"),
        (keys.parse_probe_state, "probe:web:api:x"),
    ],
)
def test_parsers_refuse_another_collection(parse: Callable[[str], object], key: str) -> None:
    with pytest.raises(ValueError, match="not a"):
        parse(key)


# -- time order -------------------------------------------------------------------------------

# Increasing times, a second or more apart, across digit and year boundaries.
TIMES = [1_000_000_000.0, 1_000_000_001.0, 1_000_000_010.0, 1_699_999_999.0, T, 4_102_444_800.0]


@pytest.mark.parametrize(
    "build",
    [
        lambda at: keys.audit(at, "ffffff"),
        lambda at: keys.verification("web", at, "0000"),
        lambda at: keys.probe("web", "api", at),
        lambda at: keys.incident("web", "zzz", at),
        lambda at: keys.run("web", at, 999, 9),
        lambda at: keys.retry(at, "z"),
        lambda at: keys.deploy_queue("web", "prod", at, "zzzzzz"),
    ],
    ids=["audit", "verification", "probe", "incident", "run", "retry", "deploy_queue"],
)
def test_time_sorted_keys_sort_by_time(build: Callable[[float], str]) -> None:
    built = [build(at) for at in TIMES]
    assert sorted(reversed(built)) == built


def test_audit_keys_sort_within_a_second() -> None:
    built = [keys.audit(T + fraction, "ffffff") for fraction in (0.0, 0.000_01, 0.25, 0.999)]
    assert sorted(reversed(built)) == built


def test_retry_keys_sort_in_due_order() -> None:
    built = [keys.retry(due, "j") for due in (5.0, 100.0, 99.9, 1_800_000_000.0)]
    assert sorted(built) == [built[0], built[2], built[1], built[3]]


def test_days_cover_the_period_and_nothing_else() -> None:
    midnight = 1795910400.0  # 2026-11-29 00:00 UTC
    assert list(keys.days(midnight, midnight + 86400)) == ["20261129"]
    assert list(keys.days(midnight - 1, midnight + 1)) == ["20261128", "20261129"]
    assert list(keys.days(midnight, midnight + 7 * 86400)) == [f"202611{d}" for d in (29, 30)] + [
        f"202612{d:02d}" for d in range(1, 6)
    ]
    # Every key written inside a period is found by one of its day prefixes.
    for at in (midnight, midnight + 3600.5, midnight + 86399.9):
        written = keys.probe("web", "api", at)
        found = [
            d
            for d in keys.days(midnight, midnight + 86400)
            if written.startswith(keys.probe_prefix("web", "api", d))
        ]
        assert found == ["20261129"]


# -- one owner --------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "orchestrator"
OWNER = SOURCES / "store" / "keys.py"
STORE_METHODS = {"claim", "put", "put_if_newer", "get", "delete", "query_prefix"}


def _leading_text(node: ast.AST) -> str | None:
    """The literal text a string expression starts with (`f"job:{x}"` -> `job:`)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values:
        return _leading_text(node.values[0])
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _leading_text(node.left)
    return None


def _is_store(node: ast.AST) -> bool:
    """`store`, `services.store`, `self._store`...: the receiver of a store call."""
    return ast.unparse(node).split(".")[-1].lstrip("_") == "store"


def _store_key_args(call: ast.Call) -> Iterator[ast.expr]:
    """The key argument of a store call, direct (`store.get(k)`) or passed on
    (`run_in_threadpool(store.delete, k)`)."""
    parts = [call.func, *call.args]
    for index, method in enumerate(parts[:-1]):  # the key is what follows the method
        if (
            isinstance(method, ast.Attribute)
            and method.attr in STORE_METHODS
            and _is_store(method.value)
        ):
            yield parts[index + 1]


def key_literals(source: str, known: set[str]) -> list[tuple[int, str]]:
    """Inline store keys in `source`: any string starting `<known collection>:` (no space
    after the colon: that is prose), and any literal passed as the key of a store call."""
    pattern = re.compile(rf"^(?:{'|'.join(map(re.escape, sorted(known)))}):(?!\s)")
    found: dict[int, str] = {}
    for node in ast.walk(ast.parse(source)):
        text = _leading_text(node) if isinstance(node, ast.Constant | ast.JoinedStr) else None
        if text is not None and pattern.match(text):
            found.setdefault(node.lineno, ast.unparse(node))
        if isinstance(node, ast.Call):
            for arg in _store_key_args(node):
                if _leading_text(arg) is not None:
                    found.setdefault(arg.lineno, ast.unparse(arg))
    return sorted(found.items())


def test_the_detector_flags_keys_and_nothing_else() -> None:
    known = {"job", "delivery", "relay", "probe"}
    offending = """
store.get(f"job:{job_id}")
services.store.put("newthing:1", {})
run_in_threadpool(services.store.delete, f"delivery:{delivery}")
PREFIX = "relay:"
self._store.query_prefix("other:" + app)
"""
    assert [line for line, _ in key_literals(offending, known)] == [2, 3, 4, 5, 6]
    harmless = """
custom_id("relay.confirm", relay_id)
button("Promote", "release.promote:web:main")
where = f"channel:{target}"
log.info("job: skipped")
raise InvalidApp(f"probe: {host} resolves to a non-public address")
url = "https://api.github.com/repos/x"
payload.get("delivery")
store.get(keys.job(job_id))
"""
    assert key_literals(harmless, known) == []


def test_no_store_key_is_spelled_outside_keys_py() -> None:
    known = collections()
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {text}"
        for path in sorted(SOURCES.rglob("*.py"))
        if path != OWNER
        for line, text in key_literals(path.read_text(encoding="utf-8"), known)
    ]
    assert offenders == [], "build store keys with orchestrator.store.keys:\n" + "\n".join(
        offenders
    )


def test_keys_py_sits_in_the_foundation_layer() -> None:
    """It may import the standard library and `orchestrator.store`, nothing above."""
    tree = ast.parse(OWNER.read_text(encoding="utf-8"))
    imported = [
        node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    ] + [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    ]
    ours = [name for name in imported if name.split(".")[0] == "orchestrator"]
    assert all(name.startswith("orchestrator.store") for name in ours), ours
