import { judge } from "../algorithms/step.js";
import { emptyVerdict, type RowAlgorithm, type Verdict } from "../algorithms/types.js";
import { wallNow } from "../clock.js";
import { combine, type Decision, verdictFree } from "../decision.js";
import type { Policy } from "../policy.js";
import type { StoreBinding } from "../store.js";
import { BlockTable } from "./blocks.js";
import { EscalationTable, nextBlockMs } from "./escalations.js";
import { type KeyCount, RowTable, SWEEP_EVERY_MASK } from "./rows.js";

/** The store as its bindings see it: the shared key count, the bound, and who frees room. */
export interface Room extends KeyCount {
  readonly maxKeys: number;
  readonly whenFull: "reject" | "allow";
  /**
   * Frees one key for `asking`: a counter or a history at rest, then a counter not limited,
   * then the history of a key not blocked, then a limited counter, and for a new block, as a
   * last resort, the block that ends soonest. False when nothing could go.
   */
  makeRoom(t: number, asking: MemoryBinding | undefined, forBlock: boolean): boolean;
  /** How long a refused newcomer should wait: until the soonest block held ends. */
  fullRetryMs(t: number): number;
  /**
   * `binding` holds its first key (counter, block or history): the store keeps it alive until
   * it holds none, whether or not a limiter still does. `t` lets the store sweep idle bindings.
   */
  hold(binding: MemoryBinding, t: number): void;
  /** `binding` holds no key any more: only the limiters using it keep it alive now. */
  release(binding: MemoryBinding): void;
}

/**
 * A binding's share of the store's key count. The tables count their keys through it; it tells
 * the store when the binding starts and stops holding any, so the store holds strongly exactly
 * the bindings with state (memory-store.ts). `t` is the time of the decision adding a key.
 */
class BindingKeys implements KeyCount {
  /** Keys of this binding: rows, blocks and escalation histories. */
  held = 0;
  t = 0;
  binding!: MemoryBinding;

  constructor(private readonly room: Room) {}

  get size(): number {
    return this.room.size;
  }

  set size(value: number) {
    const delta = value - this.room.size;
    this.room.size = value;
    const before = this.held;
    this.held += delta;
    if (before === 0 && this.held > 0) this.room.hold(this.binding, this.t);
    else if (before > 0 && this.held === 0) this.room.release(this.binding);
  }
}

/**
 * One limiter's state in the memory store (prefix + policies): its counters (RowTable) and
 * its blocks (BlockTable), deciding with the algorithms' in-place kernels.
 */
export class MemoryBinding extends RowTable implements StoreBinding {
  readonly blocks: BlockTable;
  /** The rows of blocks of escalating policies (issue 17 item 5). */
  readonly escalations: EscalationTable;
  private readonly verdicts: Verdict[];
  /** Per policy, the (unrounded) block a rejection is starting, until it is remembered. */
  private readonly pending: number[];
  private readonly slot: [number, number] = [0, 0];
  private ops = 0;
  /** Set when the binding has exactly one fixed-width policy: the fast path. */
  private readonly solo: RowAlgorithm | undefined;
  private readonly keys: BindingKeys;

  constructor(
    private readonly room: Room,
    policies: readonly Policy[],
  ) {
    super(new BindingKeys(room), policies);
    const keys = this.count as BindingKeys;
    keys.binding = this;
    this.keys = keys;
    this.blocks = new BlockTable(keys);
    this.escalations = new EscalationTable(keys, policies);
    this.pending = policies.map(() => 0);
    this.verdicts = policies.map(() => emptyVerdict());
    const only = this.algs[0]!;
    this.solo = policies.length === 1 && only.width > 0 ? (only as RowAlgorithm) : undefined;
  }

  consume(key: string, cost: number, now: number | undefined): Promise<Decision> {
    try {
      return Promise.resolve(this.consumeSync(key, cost, now));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  peek(key: string, cost: number, now: number | undefined): Promise<Decision> {
    try {
      return Promise.resolve(this.peekSync(key, cost, now));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  consumeSync(key: string, cost: number, now: number | undefined): Decision {
    const t = now ?? wallNow();
    if ((++this.ops & SWEEP_EVERY_MASK) === 0) this.sweep(t);
    if (this.blocks.size !== 0) {
      const blocked = this.blockedDecision(key, t);
      if (blocked !== undefined) return blocked;
    }
    let row = this.index.get(key);
    if (this.solo !== undefined) return this.consumeSolo(this.solo, key, row, cost, t);
    const r = row ?? 0;
    const n = this.policies.length;
    let allowed = true;
    for (let i = 0; i < n; i++) {
      this.judgeAt(i, r, t, cost, this.verdicts[i]!);
      allowed &&= this.verdicts[i]!.allowed;
    }
    if (allowed) {
      if (cost > 0) {
        if (row === undefined) {
          row = this.allocate(key, t);
          if (row < 0) return this.fullDecision(t);
        }
        for (let i = 0; i < n; i++) this.commitAt(i, row, t, cost);
      }
      return combine(this.policies, this.verdicts);
    }
    let blockFor = 0;
    let escalated = false;
    for (let i = 0; i < n; i++) {
      const v = this.verdicts[i]!;
      const p = this.policies[i]!;
      let ms = p.blockForMs;
      // A policy that passed was not charged: restate its numbers uncharged.
      if (v.allowed) this.judgeAt(i, r, t, 0, v);
      else if (ms > 0 && v.retryAfterMs !== Number.POSITIVE_INFINITY) {
        if (p.escalation !== undefined) {
          ms = this.nextBlock(key, i, t, p);
          escalated = true;
        }
        penalise(v, ms);
        if (ms > blockFor) blockFor = ms;
      }
    }
    if (blockFor > 0) {
      this.setBlock(key, t + blockFor, t);
      if (escalated) this.remember(key, t + blockFor, t);
    }
    return combine(this.policies, this.verdicts);
  }

  /**
   * The common case, one fixed-width policy, without the per-policy loop and offset lookups:
   * the same steps as the general path, on the hot path of every single-policy limiter.
   */
  private consumeSolo(
    alg: RowAlgorithm,
    key: string,
    row: number | undefined,
    cost: number,
    t: number,
  ): Decision {
    const p = this.policies[0]!;
    const v = this.verdicts[0]!;
    const width = this.width;
    if (cost > p.burst) {
      judge(alg, this.slab, (row ?? 0) * width, t, cost, p, v);
    } else if (row !== undefined) {
      alg.take(this.slab, row * width, t, cost, p, v); // evaluates and charges in one pass
    } else {
      // An unseen key reads the fresh row 0 and gets a row of its own only once admitted.
      alg.evaluate(this.slab, 0, t, cost, p, v);
      if (v.allowed && cost > 0) {
        row = this.allocate(key, t);
        if (row < 0) return this.fullDecision(t);
        alg.commit(this.slab, row * width, t, cost, p);
      }
    }
    if (!v.allowed && p.blockForMs > 0 && v.retryAfterMs !== Number.POSITIVE_INFINITY) {
      const ms = p.escalation === undefined ? p.blockForMs : this.nextBlock(key, 0, t, p);
      this.setBlock(key, t + ms, t);
      if (p.escalation !== undefined) this.remember(key, t + ms, t);
      penalise(v, ms);
    }
    return combine(this.policies, this.verdicts);
  }

  peekSync(key: string, cost: number, now: number | undefined): Decision {
    const t = now ?? wallNow();
    const blocked = this.blockedDecision(key, t);
    if (blocked !== undefined) return blocked;
    const r = this.index.get(key) ?? 0;
    for (let i = 0; i < this.policies.length; i++) {
      const v = this.verdicts[i]!;
      this.judgeAt(i, r, t, cost, v);
      const { allowed, retryAfterMs, delayMs } = v;
      this.judgeAt(i, r, t, 0, v); // remaining and reset as they stand, uncharged
      v.allowed = allowed;
      v.retryAfterMs = retryAfterMs;
      v.delayMs = delayMs;
    }
    return combine(this.policies, this.verdicts);
  }

  async refund(key: string, amount: number, now: number | undefined): Promise<void> {
    const row = this.index.get(key);
    if (row === undefined || amount <= 0) return;
    this.refundAt(row, now ?? wallNow(), amount);
  }

  async reset(key: string): Promise<void> {
    this.resetSync(key);
  }

  resetSync(key: string): void {
    const row = this.index.get(key);
    if (row !== undefined) this.removeRow(key, row);
    this.blocks.drop(key);
    this.escalations.drop(key);
  }

  async block(key: string, ms: number, now: number | undefined): Promise<void> {
    this.blockSync(key, ms, now);
  }

  blockSync(key: string, ms: number, now: number | undefined): void {
    const t = now ?? wallNow();
    this.setBlock(key, t + ms, t);
  }

  async unblock(key: string): Promise<void> {
    this.blocks.drop(key);
  }

  private blockedDecision(key: string, t: number): Decision | undefined {
    const until = this.blocks.endOf(key, t);
    return until === undefined
      ? undefined
      : verdictFree(this.policies, "blocked", false, until - t);
  }

  /**
   * Starts or extends a block. A new block makes room like a new counter does, and may also
   * forget the block that ends soonest: a penalty that starts is never dropped for lack of room.
   */
  private setBlock(key: string, until: number, t: number): void {
    if (
      !this.blocks.has(key) &&
      this.room.size >= this.room.maxKeys &&
      !this.room.makeRoom(t, this, true)
    ) {
      return; // nothing held could go: only possible in a store that holds no key at all
    }
    this.keys.t = t;
    this.blocks.extend(key, until);
  }

  /**
   * The block escalating policy i starts for `key` at `t`, in whole ms (rounded up); the
   * unrounded length waits in `pending` for `remember`.
   */
  private nextBlock(key: string, i: number, t: number, p: Policy): number {
    const slot = this.slot;
    this.escalations.read(key, i, slot);
    const next = nextBlockMs(slot[0], slot[1], t, p, p.escalation!);
    this.pending[i] = next;
    return Math.ceil(next);
  }

  /**
   * Records the blocks just started by escalating policies: each remembered until its
   * `forgetAfter` past the key's block end. Made after the block itself, so a store short of
   * room never trades the block for its history (the history is dropped instead).
   */
  private remember(key: string, blockEnd: number, t: number): void {
    const room = this.room;
    this.keys.t = t;
    const row = this.escalations.row(
      key,
      () => room.size < room.maxKeys || room.makeRoom(t, this, false),
    );
    for (let i = 0; i < this.policies.length; i++) {
      const next = this.pending[i]!;
      if (next === 0) continue;
      this.pending[i] = 0;
      if (row === undefined) continue;
      row[2 * i] = next;
      row[2 * i + 1] = blockEnd + this.policies[i]!.escalation!.forgetAfterMs;
    }
  }

  private allocate(key: string, t: number): number {
    if (this.room.size >= this.room.maxKeys && !this.room.makeRoom(t, this, false)) return -1;
    this.keys.t = t;
    return this.addRow(key);
  }

  private fullDecision(t: number): Decision {
    const allow = this.room.whenFull === "allow";
    return verdictFree(
      this.policies,
      "degraded",
      allow,
      allow ? 0 : Math.max(1, this.room.fullRetryMs(t)),
    );
  }

  /** Keys this binding holds (counters, blocks, escalation histories). */
  get held(): number {
    return this.keys.held;
  }

  /**
   * Drops a few long-rested keys, ended blocks and forgotten histories: every 64 decisions, and
   * when the store sweeps bindings nobody may be deciding with any more (memory-store.ts).
   */
  sweep(t: number): void {
    this.sweepRows(t);
    this.blocks.sweep(t);
    this.escalations.sweep(t);
  }
}

/**
 * A rejection that starts (or extends) a `blockFor` penalty: the caller cannot pass before the
 * block ends, so the wait it is told is the longer of the policy's and the block's, and the
 * policy is not back to full before that (issue 13 item 5; the Redis Lua applies the same rule).
 */
function penalise(v: Verdict, blockForMs: number): void {
  if (blockForMs > v.retryAfterMs) v.retryAfterMs = blockForMs;
  if (v.resetMs < v.retryAfterMs) v.resetMs = v.retryAfterMs;
}
