"""Apache Airflow provider for AI video generation (Ace Data Cloud and HiDream).

Kept empty of imports on purpose: DAG files import the operator modules directly, and parsing a
DAG must not pay for HTTP clients or the emulator.
"""

__version__ = "0.1.0"
