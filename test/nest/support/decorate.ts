/**
 * Applies Nest decorators without decorator syntax, the way TypeScript's legacy decorators
 * would (bottom-up, methods before the class): the repo's tsconfig has no
 * experimentalDecorators, and nothing here relies on emitted design metadata.
 */
export function decorate<T extends abstract new (...args: never[]) => unknown>(
  cls: T,
  classDecorators: readonly ClassDecorator[],
  methods: Readonly<Record<string, readonly MethodDecorator[]>> = {},
): T {
  const proto = cls.prototype as object;
  for (const [name, decorators] of Object.entries(methods)) {
    const own = Object.getOwnPropertyDescriptor(proto, name);
    if (own === undefined) throw new Error(`${cls.name} has no method ${name}`);
    let descriptor: PropertyDescriptor = own;
    for (const d of [...decorators].reverse()) {
      const next: PropertyDescriptor | undefined = d(proto, name, descriptor) ?? undefined;
      if (next !== undefined) {
        descriptor = next;
        Object.defineProperty(proto, name, next);
      }
    }
  }
  for (const d of [...classDecorators].reverse()) d(cls);
  return cls;
}
