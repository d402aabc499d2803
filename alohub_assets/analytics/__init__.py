"""Call-center models with no Dagster and no storage: plain functions over numbers."""
