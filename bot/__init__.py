"""Customer-service bot for a district's retailer groups."""
