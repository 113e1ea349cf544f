"""The process-wide Spark session, configured for Delta and a persistent catalog."""
from lakehouse.runtime.session import get_session, stop_session

__all__ = ["get_session", "stop_session"]
