-- Closed 15 s bars: ts is the bar's open time (epoch ms on the wire, timestamptz here). Applied idempotently at start by the Postgres store adapter; paste into the
-- Supabase SQL editor for a Supabase project. Unqualified names, so the connection's search_path picks the schema.
create table if not exists price_15s (
  symbol           text        not null,
  ts               timestamptz not null,  -- bar open time; the bar covers [ts, ts + 15 s)
  open             numeric     not null,
  high             numeric     not null,
  low              numeric     not null,
  close            numeric     not null,
  volume           numeric     not null,
  quote_volume     numeric     not null,
  trades           bigint      not null,
  taker_buy_volume numeric     not null default 0,
  first_agg_id     bigint,
  last_agg_id      bigint,
  primary key (symbol, ts)
);

-- Tables created by the original system may lack the newer columns.
alter table price_15s add column if not exists taker_buy_volume numeric not null default 0;
alter table price_15s add column if not exists first_agg_id bigint;
alter table price_15s add column if not exists last_agg_id bigint;

-- Newest-to-oldest keyset pages (`where symbol = $1 and ts < $2 order by ts desc limit $3`) are a backward scan of
-- the primary-key index (symbol, ts): no extra index is needed.
