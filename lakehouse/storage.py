"""Questions about files and Delta tables that the Hadoop file system answers without a Spark job.

Listing through Spark's own Hadoop FileSystem means one code path for local folders, s3a off Glue
and EMRFS on Glue. A Delta table's version is the newest commit file in its ``_delta_log``:
reading it this way costs a listing, where ``DeltaTable.history`` or ``isDeltaTable`` each run a
Spark job.
"""
from __future__ import annotations

import json
import re
from contextlib import contextmanager
from typing import TYPE_CHECKING

from lakehouse.results import FileEntry

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_COMMIT = re.compile(r"^(\d{20})\.json$")


def _fs(spark: SparkSession, location: str):
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(location)
    return path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), path


def list_files(spark: SparkSession, folder: str) -> list[FileEntry] | None:
    """Files directly in ``folder`` that Spark would read (not hidden: no leading '.' or '_'),
    sorted by path; None when the folder does not exist."""
    fs, path = _fs(spark, folder)
    if not fs.exists(path):
        return None
    files = []
    for status in fs.listStatus(path):
        name = status.getPath().getName()
        if status.isFile() and not name.startswith((".", "_")):
            files.append(FileEntry(status.getPath().toString(), int(status.getLen()),
                                   int(status.getModificationTime())))
    return sorted(files, key=lambda f: f.path)


def delta_version(spark: SparkSession, location: str) -> int | None:
    """The newest committed version of the Delta table at ``location``; None if there is none."""
    fs, path = _fs(spark, location.rstrip("/") + "/_delta_log")
    if not fs.exists(path):
        return None
    versions = [int(m.group(1)) for s in fs.listStatus(path) if (m := _COMMIT.match(s.getPath().getName()))]
    return max(versions) if versions else None


def only_inserts(spark: SparkSession, location: str, after: int, upto: int) -> bool:
    """Whether every commit after version ``after`` up to ``upto`` only added rows (appends, and
    MERGEs that updated, deleted and copied nothing), read from the commits' own metrics: one small
    file per commit, no Spark job. False when a commit did anything else or cannot be read."""
    for version in range(after + 1, upto + 1):
        info = commit_info(spark, location, version)
        if info is None or not _adds_only(info):
            return False  # (a commit file cleaned up: the caller takes the long way)
    return True


def commit_info(spark: SparkSession, location: str, version: int) -> dict | None:
    """What Delta wrote of commit ``version`` (its operation, parameters, metrics, userMetadata),
    from the commit file itself, where ``DeltaTable.history`` runs a Spark job; None when the file
    is gone or holds no commitInfo."""
    fs, log = _fs(spark, location.rstrip("/") + "/_delta_log")
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(log, f"{version:020d}.json")
    if not fs.exists(path):
        return None
    stream = fs.open(path)
    try:
        text = jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8")
    finally:
        stream.close()
    for line in text.splitlines():
        if '"commitInfo"' not in line:
            continue
        try:
            action = json.loads(line)
        except ValueError:  # not Delta's writing: let Delta's own reader decide
            return None
        if "commitInfo" in action:
            return action["commitInfo"]
    return None


def _adds_only(info: dict) -> bool:
    operation, metrics = info.get("operation"), info.get("operationMetrics") or {}
    if operation == "WRITE":
        return (info.get("operationParameters") or {}).get("mode") == "Append"
    if operation == "MERGE":  # a rewritten file's copied rows would read as inserts in the change feed
        return all(int(metrics.get(m, "1")) == 0
                   for m in ("numTargetRowsUpdated", "numTargetRowsDeleted", "numTargetRowsCopied"))
    return False


def delta_rs(root: str):
    """delta-rs (``deltalake``) for tables under a local ``root``, if installed; None: use Spark.
    It answers counts, small reads and ledger appends without starting a JVM."""
    if "://" in root:
        return None
    try:
        import deltalake
    except ImportError:
        return None
    return deltalake


def data_files(spark: SparkSession, location: str) -> int:
    """Files a Delta table keeps beside its log (data and change-feed files, current or not)."""
    fs, path = _fs(spark, location)
    if not fs.exists(path):
        return 0
    found, files = 0, fs.listFiles(path, True)
    while files.hasNext():
        status = files.next()
        found += "/_delta_log/" not in status.getPath().toString()
    return found


@contextmanager
def jvm_stdout_quiet(spark: SparkSession):
    """Delta's VACUUM prints "Deleted N files" on the JVM's stdout, which is the CLI's: with
    --json, stdout must hold the JSON alone. Its own numbers are counted and shown instead."""
    jvm = spark.sparkContext._jvm
    saved = jvm.System.out
    jvm.System.setOut(jvm.java.io.PrintStream(jvm.java.io.OutputStream.nullOutputStream()))
    try:
        yield
    finally:
        jvm.System.setOut(saved)
