"""The provider's Airflow plugin: a FastAPI app on the API server (``/vidgen``) with the vendor-callback
receiver. Registered through the ``airflow.plugins`` entry point (``plugin.py``)."""
