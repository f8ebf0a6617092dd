-- Supabase only, not applied automatically: lets the gateway read price_15s with the anon key (compose gives the
-- gateway SUPABASE_ANON_KEY only; the service-role key stays with the recorder, the one writer).
alter table price_15s enable row level security;
drop policy if exists "price_15s readable" on price_15s;
create policy "price_15s readable" on price_15s for select to anon, authenticated using (true);
