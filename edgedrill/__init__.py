"""The ``edgedrill`` command and the orchestration of a drill.

``edgedrill.cli`` is the entry point; each command group is a module of
``edgedrill.commands``. ``edgedrill.drill`` runs a Locust scenario in its own
process (Locust monkey-patches whatever imports it, so this package never
does) and ``edgedrill.watch`` follows a running drill's records.
"""
