"""One Spark session per process, with Delta Lake.

Locally Delta's jars are fetched once from Maven Central into an Ivy folder inside the checkout
(ignored by git) and reused offline afterwards; on AWS Glue they come with ``--datalake-formats
delta`` and the environment says ``delta_jars: provided``.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakehouse.config.models import Environment

DELTA_VERSION = "3.3.2"
DELTA_PACKAGES = [f"io.delta:delta-spark_2.12:{DELTA_VERSION}"]  # pulls io.delta:delta-storage too
# s3:// off Glue goes through s3a; hadoop-aws must match pyspark's Hadoop (3.3.4), and pulls the SDK.
S3A_PACKAGES = ["org.apache.hadoop:hadoop-aws:3.3.4"]
_JARS = {  # the files Ivy leaves in <ivy>/jars for each package list, to skip resolution offline
    "delta": [f"io.delta_delta-spark_2.12-{DELTA_VERSION}.jar", f"io.delta_delta-storage-{DELTA_VERSION}.jar",
              "org.antlr_antlr4-runtime-4.9.3.jar"],
    "s3a": ["org.apache.hadoop_hadoop-aws-3.3.4.jar", "com.amazonaws_aws-java-sdk-bundle-1.12.262.jar",
            "org.wildfly.openssl_wildfly-openssl-1.0.7.Final.jar"],
}

# Small-data defaults for a 2-core machine; an environment's spark_conf overrides any of them.
LOCAL_DEFAULTS = {
    "spark.master": "local[*]",
    "spark.driver.memory": "4g",
    "spark.sql.shuffle.partitions": "8",
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    # A JVM that lives for one run or one question: the C1 compiler only. C2's optimising compiles
    # pay off in long jobs; in a minute on 2 cores its threads take CPU from the work (real-data-
    # sized run 45.1 s -> 39.2 s; 10x the data within 3 %). A long-lived session (a notebook, the
    # test suite: twice as slow) sets spark.driver.defaultJavaOptions to "" in its spark_conf.
    # C1 alone reserves 48 MB for compiled code, which a run at 10x the sample can fill: the JVM
    # then prints "CodeCache is full. Compiler has been disabled" on the user's terminal and stops
    # compiling until it has flushed old code (that run's last zone: 7.2 s against about 4.5 s).
    "spark.driver.defaultJavaOptions": "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=256m",
    # Spark keeps the classes it generates for a query's code in a cache of 100 by default; one run
    # makes about 250, so the next run in the same session generated and compiled every one again
    # (a 1 % delivery after a first run at 10x the sample: 240 compiles and 15-18 s; with room for
    # them 12-114 compiles and 10-13 s).
    "spark.sql.codegen.cache.maxEntries": "1000",
    # Cached frames (every landing line parsed, an incremental zone's staged rows) are read a few
    # times within a zone and dropped after it: compressing them cost more CPU than it saved (10x
    # sample, whole process: see the README's speed section).
    "spark.sql.inMemoryColumnarStorage.compressed": "false",
}

_session: SparkSession | None = None
_starting = threading.Lock()  # a session started in the background and a caller's get_session meet here

# Spark's default log4j setup prints WARN lines (loopback hostname, native Hadoop) on every start,
# before setLogLevel("ERROR") can quiet them; a local JVM starts with this instead. The root stays
# at WARN: PySpark counts as Spark's shell, which announces any other level it is started with.
_LOG4J = """\
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = stderr
appender.stderr.type = Console
appender.stderr.name = stderr
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
logger.hostname.name = org.apache.spark.util.Utils
logger.hostname.level = error
logger.native.name = org.apache.hadoop.util.NativeCodeLoader
logger.native.level = error
"""


def _quiet_log4j() -> str:
    """The JVM option pointing log4j at the file above, written once beside the Ivy cache."""
    path = ivy_dir().parent / "log4j2-lakehouse.properties"
    if not path.exists() or path.read_text() != _LOG4J:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_LOG4J)
    return f"-Dlog4j2.configurationFile=file:{path}"


def ivy_dir() -> Path:
    """Where Delta's jars are cached: $LAKEHOUSE_IVY_DIR, else .cache/ivy in the checkout."""
    if os.environ.get("LAKEHOUSE_IVY_DIR"):
        return Path(os.environ["LAKEHOUSE_IVY_DIR"])
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "setup.cfg").exists():
        return checkout / ".cache" / "ivy"
    return Path.home() / ".cache" / "lakehouse" / "ivy"


def session_conf(env: Environment) -> dict[str, str]:
    conf = {
        "spark.app.name": f"lakehouse-{env.name}",
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        # New columns derived in a zone's YAML reach the target by MERGE without a manual ALTER.
        "spark.databricks.delta.schema.autoMerge.enabled": "true",
        # Let AQE coalesce the shuffle partitions of cached plans too (off by default in 3.5): every
        # landing line parsed is cached, and a small zone otherwise pays for 8 tasks in every
        # check and writes 8 tiny files.
        "spark.sql.optimizer.canChangeCachedPlanOutputPartitioning": "true",
    }
    uses_s3 = any(root.startswith(("s3://", "s3a://")) for root in (env.landing_root, env.lake_root))
    if env.delta_jars == "maven":
        kinds = ["delta", "s3a"] if uses_s3 else ["delta"]
        jars = [ivy_dir() / "jars" / name for kind in kinds for name in _JARS[kind]]
        if all(j.exists() for j in jars):
            # Already fetched: hand Spark the files, so start-up neither resolves nor prints.
            conf["spark.jars"] = ",".join(str(j) for j in jars)
        else:
            conf["spark.jars.packages"] = ",".join(DELTA_PACKAGES + (S3A_PACKAGES if uses_s3 else []))
            conf["spark.jars.ivy"] = str(ivy_dir())
    if uses_s3 and env.delta_jars == "maven":
        conf.update(s3a_conf(env))
    if env.metastore == "memory":
        # Spark's in-memory catalog, filled from the configuration by each process (catalog.attach):
        # no metastore to boot, and no lock that lets only one process in.
        conf["spark.sql.catalogImplementation"] = "in-memory"
        conf["spark.sql.warehouse.dir"] = str(Path(env.lake_root) / "_warehouse")
    if env.metastore == "memory" or env.delta_jars == "maven":
        # A JVM this process starts itself (Glue provides both jars and metastore, and sizes its
        # own): a laptop against S3 too, which otherwise ran 200 tasks per shuffle on its cores.
        conf["spark.driver.extraJavaOptions"] = _quiet_log4j()
        conf = {**LOCAL_DEFAULTS, **conf}
    return {**conf, **env.spark_conf}


def s3a_conf(env: Environment) -> dict[str, str]:
    """s3:// URIs through s3a off Glue, with the default AWS credential chain (or a stand-in)."""
    conf = {
        "spark.hadoop.fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3a.aws.credentials.provider": "com.amazonaws.auth.DefaultAWSCredentialsProviderChain",
    }
    if env.aws and env.aws.endpoint_url:
        conf["spark.hadoop.fs.s3a.endpoint"] = env.aws.endpoint_url
        conf["spark.hadoop.fs.s3a.path.style.access"] = "true"
        conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(env.aws.endpoint_url.startswith("https")).lower()
    if env.aws:
        conf["spark.hadoop.fs.s3a.endpoint.region"] = env.aws.region
    return conf


def get_session(env: Environment) -> SparkSession:
    """The process's Spark session, created on first use from ``env``; later calls reuse it."""
    global _session
    with _starting:
        if _session is not None:
            return _session
        from pyspark.sql import SparkSession

        conf = session_conf(env)
        builder = SparkSession.builder
        for key, value in conf.items():
            builder = builder.config(key, value)
        if env.metastore == "provided":
            builder = builder.enableHiveSupport()
        _session = builder.getOrCreate()
        _session.sparkContext.setLogLevel("ERROR")
        return _session


def start_session(env: Environment) -> Future:
    """``get_session`` on a background thread: the JVM boots (seconds, in its own process) while
    this thread goes on with Python work such as importing Great Expectations. A daemon thread, so
    a configuration error found meanwhile exits at once instead of waiting for the boot."""
    future: Future = Future()

    def boot() -> None:
        try:
            future.set_result(get_session(env))
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits for the session
            future.set_exception(exc)

    threading.Thread(target=boot, name="spark-start", daemon=True).start()
    return future


def stop_session() -> None:
    global _session
    if _session is not None:
        _session.stop()
        _session = None
