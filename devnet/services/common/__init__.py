"""What every service shares: settings, store, problem responses, idempotency, webhooks, faults."""
