/** The latest `capacity` items, oldest first when read: memory fixed, O(1) per push. */
export class Ring<T> {
  private readonly items: (T | undefined)[];
  private next = 0;
  private full = false;

  constructor(readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity).fill(undefined);
  }

  push(item: T): void {
    if (this.capacity === 0) return;
    this.items[this.next] = item;
    this.next++;
    if (this.next === this.capacity) {
      this.next = 0;
      this.full = true;
    }
  }

  toArray(): T[] {
    const head = this.full ? this.items.slice(this.next) : [];
    return [...head, ...this.items.slice(0, this.next)] as T[];
  }

  clear(): void {
    this.items.fill(undefined);
    this.next = 0;
    this.full = false;
  }
}
