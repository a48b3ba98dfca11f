"""Pure, Dagster-free logic: identity, metrics, insights, rendering. Most tests live here."""
