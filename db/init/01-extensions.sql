-- Runs once, when the data volume is first created. Migrations create what they need too;
-- creating the extension here as the superuser also covers a role without CREATE rights.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
