-- Embeddings that ml-infer reads, newest first (SPEC §8). Written by the built-in producer or an external one.
create table if not exists ai_outputs (
  symbol     text        not null,
  ts         timestamptz not null,  -- open time of the newest bar the embedding was derived from
  embedding  real[]      not null,
  producer   text        not null default 'builtin',
  created_at timestamptz not null default now(),
  primary key (symbol, ts)
);
