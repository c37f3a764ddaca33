"""Admin API for staff, mounted on NoneBot's FastAPI app under /api/v1."""
