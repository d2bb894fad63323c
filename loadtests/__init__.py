"""What runs inside Locust: the locustfiles and their machinery.

The locustfiles sit at the top (``loadtests/spike.py``, ``loadtests/replay.py``)
so that ``locust -f loadtests/spike.py`` reads as it runs. Every other module
starts with ``_`` because ``locust -f loadtests/`` imports each module of a
folder whose name does not start with ``_`` and looks in it for user classes
and shapes; the machinery would be imported as scenarios. Only this package
imports locust or gevent (locust monkey-patches the process on import); the
``edgedrill`` command runs it in a subprocess.
"""
