-- Supabase only, not applied automatically: row level security without any policy, so the anon and authenticated
-- keys can neither read nor write ai_outputs through the Data API. The embedder, ml-runner and ml-infer use the
-- service-role key (which bypasses row level security) or DATABASE_URL.
alter table ai_outputs enable row level security;
