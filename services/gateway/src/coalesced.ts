const ignore = () => {};

interface Round<V> {
  value: Promise<V>;
  /** Once sealed, the round has begun its read: a later call could be older than what it reads, so waits for the next. */
  sealed: boolean;
  next: Promise<V> | null;
}

/**
 * Concurrent reads of one key share one run of the loader, and a caller only ever gets a run that read after it
 * called: a call joins the current round while the round is not yet sealed (the loader seals it right before its
 * read), else it waits for the next round, which starts when the current one ends and serves every caller that came
 * meanwhile. So the result is as fresh as a call of one's own, and a thousand callers cost at most two reads.
 */
export class Coalesced<K, V> {
  private readonly rounds = new Map<K, Round<V>>();

  run(key: K, load: (seal: () => void) => Promise<V>): Promise<V> {
    const round = this.rounds.get(key);
    if (!round) return this.begin(key, load);
    if (!round.sealed) return round.value;
    round.next ??= round.value.then(ignore, ignore).then(() => this.begin(key, load));
    return round.next;
  }

  private begin(key: K, load: (seal: () => void) => Promise<V>): Promise<V> {
    const round: Round<V> = { value: undefined!, sealed: false, next: null };
    this.rounds.set(key, round);
    round.value = Promise.resolve().then(() => load(() => (round.sealed = true)));
    // Runs before the next round's begin (registered earlier on the same promise), so a queued round is kept.
    void round.value.then(ignore, ignore).then(() => {
      if (this.rounds.get(key) === round && round.next === null) this.rounds.delete(key);
    });
    return round.value;
  }
}
