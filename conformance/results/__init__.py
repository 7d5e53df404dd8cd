"""Run files on disk: ``results/<profile-id>/<kind>/<run-id>.json``, typed and written safely."""
