"""The vendors this package ships, one folder each: ``services.py`` (the service rows, data only),
``vendor.py`` (the :class:`~airflow_provider_vidgen.core.vendor.Vendor` subclass: requests and answer
reading) and ``emulated.py`` (the emulator's face of the vendor). ``core.vendor`` registers them by name."""
