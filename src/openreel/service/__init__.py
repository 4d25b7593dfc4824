"""OpenReel's application logic: jobs, store, storage, workers, webhooks. No HTTP here."""
