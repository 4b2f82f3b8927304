"""The operator dashboard: where each request ran and why, live (GET /dashboard, its SSE feed, admin
controls), and the same feed in a terminal (`edgecloud top`)."""
