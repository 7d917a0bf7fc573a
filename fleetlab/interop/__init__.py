"""Translate a fleetlab plan into the configuration of the update systems teams already run, and back.

One module per target (aws_iot_jobs, hawkbit, mender, azure_adu), each with `export_plan` and `import_document`;
`targets.py` names them. What a target cannot express is a Gap: refused by default, written into the document's
description (and printed) under --approximate. docs/interop.md says what maps to what.
"""
