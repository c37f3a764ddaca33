"""Business rules, free of NoneBot and FastAPI: each function takes an open session."""
