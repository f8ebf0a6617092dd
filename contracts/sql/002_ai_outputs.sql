-- Embeddings of recent bars, one per symbol and bar time; ml-infer scores the newest, ml-runner exports ranges for
-- training. Written by the built-in embedder or by an external producer. Applied idempotently like 001.
create table if not exists ai_outputs (
  symbol          text        not null,
  ts              timestamptz not null,  -- open time of the newest bar of the window the embedding was computed from
  embedding       real[]      not null,
  feature_version text        not null default 'unversioned',  -- layout tag: models score only the layout they learnt
  producer        text        not null default 'external',     -- the built-in embedder writes 'builtin'
  created_at      timestamptz not null default now(),          -- first written; a replacing upsert keeps it
  primary key (symbol, ts)
);

-- Tables created by the original system may lack the newer columns. Their rows never named a layout, and the
-- built-in producer always names itself, so a row that does not came from elsewhere. Their created_at becomes the
-- time the column was added.
alter table ai_outputs add column if not exists feature_version text not null default 'unversioned';
alter table ai_outputs add column if not exists producer text not null default 'external';
alter table ai_outputs add column if not exists created_at timestamptz not null default now();
alter table ai_outputs alter column producer set default 'external';

-- Training exports walk a time range across symbols in (ts, symbol) order; the primary key serves one symbol.
create index if not exists ai_outputs_ts_symbol on ai_outputs (ts, symbol);
