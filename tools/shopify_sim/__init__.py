"""A Shopify Admin API (REST) simulator: shops, orders and refunds that
tests edit, orders.json with updated_at filters and Link pagination, the
leaky bucket and its 429s, and signed webhooks, some of them dropped."""
