"""The sample data generator: shape of the files, determinism, and a manifest that an independent
recount of the written files agrees with. Pure Python, no Spark."""
from __future__ import annotations

import json
import re
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from lakehouse.sample import Manifest, generate

SOURCES = ("customer", "accelerometer", "step_trainer")
REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "stedi"


# ------------------------------------------------------------------------------------ helpers


def landing_files(root: Path, source: str) -> list[Path]:
    return sorted((root / source / "landing").glob("*.json"))


def read_source(root: Path, source: str) -> tuple[list[dict], list[str]]:
    """Valid records and malformed lines (bad JSON, or an accelerometer x/y/z not a float)."""
    good, bad = [], []
    for path in landing_files(root, source):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                bad.append(line)
                continue
            if source == "accelerometer" and not all(
                isinstance(rec.get(k), float) for k in ("x", "y", "z")
            ):
                bad.append(line)
                continue
            good.append(rec)
    return good, bad


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def recount(root: Path) -> dict:
    """The manifest's counts, worked out the naive way from the files on disk."""
    cust, _ = read_source(root, "customer")
    acc, _ = read_source(root, "accelerometer")
    step, _ = read_source(root, "step_trainer")
    consent = {
        c["email"]: c["shareWithResearchAsOfDate"] for c in cust if "shareWithResearchAsOfDate" in c
    }
    owner = {c["serialNumber"]: c["email"] for c in cust}

    def chain(acc_trusted: list[dict]) -> dict:
        curated = {a["user"] for a in acc_trusted}
        step_trusted = [s for s in step if owner.get(s["serialNumber"]) in curated]
        by_user_ts = Counter((a["user"], a["timestamp"]) for a in acc_trusted)
        by_ts = Counter(a["timestamp"] for a in acc_trusted)
        return {
            "accelerometer_trusted": len(acc_trusted),
            "customer_curated": len(curated),
            "step_trainer_trusted": len(step_trusted),
            "machine_learning_curated": sum(
                by_user_ts[(owner[s["serialNumber"]], s["sensorReadingTime"])] for s in step_trusted
            ),
            "machine_learning_curated_timestamp_only": sum(
                by_ts[s["sensorReadingTime"]] for s in step_trusted
            ),
        }

    acc_trusted = [a for a in acc if a["user"] in consent]
    counts = {
        "customer_landing": len(cust),
        "accelerometer_landing": len(acc),
        "step_trainer_landing": len(step),
        "customer_trusted": len(consent),
        **chain(acc_trusted),
    }
    after = chain([a for a in acc_trusted if a["timestamp"] >= consent[a["user"]]])
    del after["machine_learning_curated_timestamp_only"]
    counts["after_consent"] = after
    return counts


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[Path, Manifest]:
    root = tmp_path_factory.mktemp("sample")
    return root, generate(root, scale=0.05, seed=7)


# -------------------------------------------------------------------------------------- tests


def test_layout_and_manifest_file(sample):
    root, manifest = sample
    names = {s: [p.name for p in landing_files(root, s)] for s in SOURCES}
    for source, files in names.items():
        assert all(re.fullmatch(rf"{source}-\d{{13}}\.json", n) for n in files), files
        assert len(files) == manifest.files[source]
    assert len(names["customer"]) == 1
    assert len(names["accelerometer"]) >= 2 and len(names["step_trainer"]) >= 2
    on_disk = json.loads((root / "manifest.json").read_text())
    assert on_disk == manifest.to_dict()
    assert Manifest.load(root).to_dict() == manifest.to_dict()
    assert set(on_disk) == {"scale", "seed", "files", "malformed", "counts"}
    assert on_disk["scale"] == 0.05 and on_disk["seed"] == 7
    # every file ends with a newline and has no blank lines
    for source in SOURCES:
        for path in landing_files(root, source):
            text = path.read_text()
            assert text.endswith("\n") and "\n\n" not in text


@pytest.mark.parametrize(
    "scale, seed, malformed", [(0.05, 7, None), (0.01, 3, None), (0.02, 11, 5), (0.03, 1, 0)]
)
def test_manifest_matches_independent_recount(tmp_path, scale, seed, malformed):
    manifest = generate(tmp_path, scale=scale, seed=seed, malformed=malformed)
    assert manifest.counts == recount(tmp_path)
    for source in SOURCES:
        _, bad = read_source(tmp_path, source)
        assert manifest.malformed[source] == len(bad)
    c = manifest.counts
    assert c["customer_trusted"] <= c["customer_landing"]
    assert c["customer_curated"] <= c["customer_trusted"]
    assert c["after_consent"]["accelerometer_trusted"] < c["accelerometer_trusted"]
    assert c["machine_learning_curated_timestamp_only"] > c["machine_learning_curated"]


def test_deterministic_byte_for_byte(tmp_path):
    a, b, other = tmp_path / "a", tmp_path / "b", tmp_path / "other"
    ma = generate(a, scale=0.03, seed=42)
    mb = generate(b, scale=0.03, seed=42)
    assert snapshot(a) == snapshot(b)
    assert ma == mb
    generate(other, scale=0.03, seed=43)
    assert snapshot(other) != snapshot(a)


def test_regenerating_replaces_old_files_only(tmp_path):
    generate(tmp_path, scale=0.05, seed=1)
    stale = tmp_path / "accelerometer" / "landing" / "accelerometer-1.json"
    stale.write_text('{"user":"stale@test.com"}\n')
    keep = tmp_path / "customer" / "landing" / "README.txt"
    keep.write_text("not a json file")
    generate(tmp_path, scale=0.02, seed=2)
    assert not stale.exists() and keep.exists()
    fresh = tmp_path / "fresh"
    generate(fresh, scale=0.02, seed=2)
    got = {k: v for k, v in snapshot(tmp_path).items() if not k.startswith("fresh")}
    del got[str(keep.relative_to(tmp_path))]
    assert got == snapshot(fresh)


def test_malformed_lines_do_not_touch_valid_data(tmp_path):
    with_bad = generate(tmp_path / "bad", scale=0.02, seed=5)
    clean = generate(tmp_path / "clean", scale=0.02, seed=5, malformed=0)
    assert with_bad.malformed == {"customer": 2, "accelerometer": 3, "step_trainer": 3}
    assert clean.malformed == {"customer": 0, "accelerometer": 0, "step_trainer": 0}
    assert with_bad.counts == clean.counts
    for source in SOURCES:
        good_bad, _ = read_source(tmp_path / "bad", source)
        good_clean, bad_clean = read_source(tmp_path / "clean", source)
        assert good_bad == good_clean and bad_clean == []


def test_malformed_lines_sit_inside_files(sample):
    root, manifest = sample
    kinds = Counter()
    for source in SOURCES:
        n_bad = 0
        for path in landing_files(root, source):
            lines = path.read_text().splitlines()
            for i, line in enumerate(lines):
                try:
                    rec = json.loads(line)
                except ValueError:
                    kinds[source, "json"] += 1
                else:
                    if source != "accelerometer" or isinstance(rec["x"], float):
                        continue
                    assert rec["x"] == "abc"
                    kinds[source, "type"] += 1
                n_bad += 1
                assert 0 < i < len(lines) - 1, f"{path.name}:{i} is at the edge of the file"
        assert n_bad == manifest.malformed[source] > 0
    assert kinds["accelerometer", "type"] == 1
    assert kinds["accelerometer", "json"] == 2
    assert kinds["customer", "json"] == 2 and kinds["step_trainer", "json"] == 3


def test_customer_records(sample):
    root, _ = sample
    lines = landing_files(root, "customer")[0].read_text().splitlines()
    customers, _ = read_source(root, "customer")
    order = [
        "customerName", "email", "phone", "birthDay", "serialNumber", "registrationDate",
        "lastUpdateDate", "shareWithResearchAsOfDate", "shareWithPublicAsOfDate",
        "shareWithFriendsAsOfDate",
    ]
    valid_lines = [l for l in lines if l.endswith("}")]
    assert [json.dumps(c) for c in customers] == valid_lines  # default separators
    for c in customers:
        keys = list(c)
        assert keys == [k for k in order if k in c]
        assert keys[:7] == order[:7]
        assert None not in c.values()
        assert isinstance(c["phone"], str)
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", c["birthDay"])
        assert uuid.UUID(c["serialNumber"]).version == 4
        for k in order[5:]:
            assert k not in c or type(c[k]) is int
        first, last = c["customerName"].split()
        assert re.fullmatch(rf"{first}\.{last}\d*@test\.com", c["email"])
    assert len({c["email"] for c in customers}) == len(customers)
    assert len({c["serialNumber"] for c in customers}) == len(customers)
    consenting = sum("shareWithResearchAsOfDate" in c for c in customers)
    assert 0.25 * len(customers) < consenting < 0.75 * len(customers)


def test_accelerometer_records(sample):
    root, _ = sample
    rows, _ = read_source(root, "accelerometer")
    emails = {c["email"] for c in read_source(root, "customer")[0]}
    for path in landing_files(root, "accelerometer"):
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec["x"], float):
                assert line == json.dumps(rec, separators=(",", ":"))
                assert re.search(r'"x":-?\d+\.\d+,"y":-?\d+\.\d+,"z":-?\d+\.\d+}$', line)
    for r in rows:
        assert list(r) == ["user", "timestamp", "x", "y", "z"]
        assert r["user"] in emails and type(r["timestamp"]) is int
        assert all(-3.0 < r[k] < 3.0 for k in "xyz")
    assert sum(r["x"] in (-1.0, 0.0, 1.0) for r in rows) > 0.95 * len(rows)
    keys = [tuple(r.values()) for r in rows]
    assert len(set(keys)) == len(keys), "two identical accelerometer rows"
    per_reading = Counter(Counter((r["user"], r["timestamp"]) for r in rows).values())
    assert max(per_reading) <= 4
    assert per_reading[3] > 0.7 * sum(per_reading.values())
    assert per_reading[2] > 0


def test_step_readings_match_owner_phone(sample):
    root, _ = sample
    customers, _ = read_source(root, "customer")
    acc, _ = read_source(root, "accelerometer")
    step, _ = read_source(root, "step_trainer")
    owner = {c["serialNumber"]: c["email"] for c in customers}
    acc_ts = defaultdict(set)
    for a in acc:
        acc_ts[a["user"]].add(a["timestamp"])
    step_ts = defaultdict(list)
    for s in step:
        assert list(s) == ["sensorReadingTime", "serialNumber", "distanceFromObject"]
        assert type(s["distanceFromObject"]) is int and 200 < s["distanceFromObject"] <= 300
        step_ts[owner[s["serialNumber"]]].append(s["sensorReadingTime"])
    assert set(step_ts) == set(acc_ts)
    for email, times in step_ts.items():
        assert len(times) == len(set(times))
        assert set(times) == acc_ts[email]  # a step reading at each of the phone's timestamps


def test_timestamps_shared_across_users(sample):
    root, manifest = sample
    acc, _ = read_source(root, "accelerometer")
    users_at = defaultdict(set)
    for a in acc:
        users_at[a["timestamp"]].add(a["user"])
    shared = sum(len(u) > 1 for u in users_at.values())
    assert 0.01 * len(users_at) < shared < 0.2 * len(users_at)
    c = manifest.counts
    assert c["machine_learning_curated_timestamp_only"] > c["machine_learning_curated"]


def test_consent_and_readings_mix(sample):
    root, manifest = sample
    customers, _ = read_source(root, "customer")
    acc, _ = read_source(root, "accelerometer")
    readers = {a["user"] for a in acc}
    consent = {c["email"]: c.get("shareWithResearchAsOfDate") for c in customers}
    assert sum(consent[u] is None for u in readers) >= 2  # non-consenters have readings too
    assert sum(consent[u] is not None for u in readers) >= 2
    early = {a["user"] for a in acc if consent[a["user"]] and a["timestamp"] < consent[a["user"]]}
    late = {a["user"] for a in acc if consent[a["user"]] and a["timestamp"] >= consent[a["user"]]}
    assert early & late  # some consenting customers have readings on both sides of the consent
    assert any(a["timestamp"] == consent[a["user"]] for a in acc)  # and one right at it
    ac = manifest.counts["after_consent"]
    assert ac["accelerometer_trusted"] < manifest.counts["accelerometer_trusted"]


@pytest.mark.parametrize("seed", range(5))
def test_tiny_scale_still_has_every_case(tmp_path, seed):
    m = generate(tmp_path, scale=0.001, seed=seed)
    c = m.counts
    assert c["customer_landing"] >= 6
    assert c["customer_curated"] >= 2
    customers, _ = read_source(tmp_path, "customer")
    readers = {a["user"] for a in read_source(tmp_path, "accelerometer")[0]}
    untrusted = {x["email"] for x in customers if "shareWithResearchAsOfDate" not in x}
    assert len(readers & untrusted) >= 2
    assert c["machine_learning_curated_timestamp_only"] > c["machine_learning_curated"]
    assert c["after_consent"]["accelerometer_trusted"] < c["accelerometer_trusted"]
    consent = {
        x["email"]: x["shareWithResearchAsOfDate"] for x in customers if x["email"] not in untrusted
    }
    assert any(
        a["timestamp"] == consent.get(a["user"]) for a in read_source(tmp_path, "accelerometer")[0]
    )
    assert m.files["accelerometer"] >= 2 and m.files["step_trainer"] >= 2
    assert sum(m.malformed.values()) == 8


def test_size_grows_linearly_with_scale(tmp_path):
    small = generate(tmp_path / "s", scale=0.02, seed=7).counts
    big = generate(tmp_path / "b", scale=0.08, seed=7).counts
    for key in ("customer_landing", "accelerometer_landing", "step_trainer_landing"):
        assert 3.4 < big[key] / small[key] < 4.6, key
    tenth = generate(tmp_path / "t", scale=0.1, seed=7).counts
    # scale 1 is the real data's size: 956 customers, 81,273 + 28,680 readings
    assert 90 <= tenth["customer_landing"] <= 100
    assert 7_000 < tenth["accelerometer_landing"] < 9_000
    assert 2_500 < tenth["step_trainer_landing"] < 3_100


@pytest.mark.parametrize(
    "kwargs", [{"scale": 0}, {"scale": -1.0}, {"scale": float("nan")}, {"malformed": -1}]
)
def test_rejects_bad_arguments(tmp_path, kwargs):
    with pytest.raises(ValueError):
        generate(tmp_path, **kwargs)


@pytest.mark.real_data
@pytest.mark.skipif(not REAL.is_dir(), reason="real STEDI data not found at ../shared/data/stedi")
def test_same_fields_and_types_as_real_data(sample):
    root, _ = sample
    for source in SOURCES:
        real_types, our_types = defaultdict(set), defaultdict(set)
        for path in sorted((REAL / source / "landing").glob("*.json"))[:1]:
            for line in path.read_text().splitlines()[:500]:
                for k, v in json.loads(line).items():
                    real_types[k].add(type(v))
        for rec in read_source(root, source)[0]:
            for k, v in rec.items():
                our_types[k].add(type(v))
        assert our_types == real_types, source
