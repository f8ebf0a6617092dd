-- Supabase only, not applied automatically: lets the gateway read ml_predictions with the anon key, as
-- price_15s_read_policy.sql does for bars. Writes stay with ml-infer's service-role key (or DATABASE_URL).
alter table ml_predictions enable row level security;
drop policy if exists "ml_predictions readable" on ml_predictions;
create policy "ml_predictions readable" on ml_predictions for select to anon, authenticated using (true);
