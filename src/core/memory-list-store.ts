import type { ListEntry, ListEntryInput, ListKind, ListStore } from "./list-store.js";

/**
 * In-process lists for the memory store: one ListStore per namespace, shared by every caller of
 * the same store (as a Redis store shares them across a fleet). Expired entries are dropped
 * lazily when read.
 *
 * @example
 * const lists = memoryLists();       // the memory store exposes this as `store.lists`
 * await lists("tk").add({ list: "deny", value: "10.0.0.0/8" }, Date.now());
 */
export function memoryLists(): (namespace: string) => ListStore {
  const namespaces = new Map<string, MemoryListStore>();
  return (namespace: string): ListStore => {
    let lists = namespaces.get(namespace);
    if (lists === undefined) {
      lists = new MemoryListStore();
      namespaces.set(namespace, lists);
    }
    return lists;
  };
}

class MemoryListStore implements ListStore {
  /** Keyed by `<list>\u0000<value>`; Map order keeps entries oldest first. */
  private readonly items = new Map<string, ListEntry>();
  private readonly listeners = new Set<() => void>();

  async add(entry: ListEntryInput, now: number | undefined): Promise<void> {
    const id = `${entry.list}\u0000${entry.value}`;
    // Re-adding moves the entry to the end: it is the newest now.
    this.items.delete(id);
    this.items.set(id, {
      list: entry.list,
      value: entry.value,
      addedAt: now ?? Date.now(),
      expiresAt: entry.expiresAt,
      reason: entry.reason,
    });
    this.notify();
  }

  async remove(list: ListKind, value: string): Promise<boolean> {
    const removed = this.items.delete(`${list}\u0000${value}`);
    if (removed) this.notify();
    return removed;
  }

  async entries(now: number | undefined): Promise<ListEntry[]> {
    return this.entriesSync(now);
  }

  entriesSync(now: number | undefined): ListEntry[] {
    const t = now ?? Date.now();
    const out: ListEntry[] = [];
    for (const [id, entry] of this.items) {
      if (entry.expiresAt !== undefined && entry.expiresAt <= t) this.items.delete(id);
      else out.push(entry);
    }
    return out;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }
}
