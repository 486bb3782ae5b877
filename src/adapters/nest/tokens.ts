/**
 * Injection tokens and metadata keys of throttlekit/nest. Registered symbols, so two loaded
 * copies of throttlekit (ESM and CJS) agree on them.
 */

/** The options as given to forRoot / returned by forRootAsync's factory. */
export const THROTTLEKIT_OPTIONS: unique symbol = Symbol.for("throttlekit.nest.options") as never;

/** The validated, resolved configuration the guard reads (built once at bootstrap). */
export const THROTTLEKIT_CONFIG: unique symbol = Symbol.for("throttlekit.nest.config") as never;

/** Metadata key set by @Throttle() on a class or a handler. */
export const THROTTLE_METADATA = "throttlekit:throttle";

/** Metadata key set by @SkipThrottle() on a class or a handler. */
export const SKIP_THROTTLE_METADATA = "throttlekit:skip";

/** The EventHub every guarded decision is emitted into (the `events` option, or the module's own). */
export const THROTTLEKIT_EVENTS: unique symbol = Symbol.for("throttlekit.nest.events") as never;

/** The metrics collector of the `metrics` option (`.snapshot()`); null when it is off. */
export const THROTTLEKIT_METRICS: unique symbol = Symbol.for("throttlekit.nest.metrics") as never;
