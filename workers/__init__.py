"""Long-running jobs off the event stream: projection runner, expiry sweeper, webhooks."""
