"""File formats of edgedrill, each declared once: the leaf every writer and reader imports.

One module per format (``access_log``, ``log_dir``, ``run_folder``,
``records``), holding names, field orders and header lines only. This package
imports nothing of ours and nothing outside the standard library, so any
package may import it without pulling in another. The router is the
exception that does not: it is zipped alone for Lambda@Edge, so its EMF line
is held to the reader by a round-trip test instead (docs/formats.md).
"""
