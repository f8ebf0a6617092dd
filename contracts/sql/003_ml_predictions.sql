-- What ml-infer scored: the probability that the price goes up after the embedding at (symbol, ts), per model
-- version. The gateway reads the newest per symbol. Applied idempotently like 001.
create table if not exists ml_predictions (
  symbol        text             not null,
  ts            timestamptz      not null,  -- ts of the ai_outputs row that was scored
  model_version text collate "C"  not null,  -- `version` of latest.json; byte order, so "greatest" is one thing everywhere
  prob_up       double precision not null check (prob_up >= 0 and prob_up <= 1),
  created_at    timestamptz      not null default now(),  -- first written; a replacing upsert keeps it
  primary key (symbol, ts, model_version)
);
