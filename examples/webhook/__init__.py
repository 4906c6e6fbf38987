"""API Gateway (HTTP API) -> streambridge -> AppSync: order status webhooks, live on the order page."""
