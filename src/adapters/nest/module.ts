import {
  type DynamicModule,
  Inject,
  Module,
  type ModuleMetadata,
  type OnApplicationShutdown,
  type Provider,
  type Type,
} from "@nestjs/common";
import { ConfigError } from "../../index.js";
import { ThrottlekitGuard } from "./guard.js";
import { resolveOptions, type ThrottlekitConfig, type ThrottlekitModuleInput } from "./options.js";
import { ThrottlekitService } from "./service.js";
import {
  THROTTLEKIT_CONFIG,
  THROTTLEKIT_EVENTS,
  THROTTLEKIT_METRICS,
  THROTTLEKIT_OPTIONS,
} from "./tokens.js";

/** A class forRootAsync's useClass / useExisting names (@nestjs/throttler's ThrottlerOptionsFactory). */
export interface ThrottlerOptionsFactory {
  createThrottlerOptions(): ThrottlekitModuleInput | Promise<ThrottlekitModuleInput>;
}

/**
 * forRootAsync's options: Nest's usual async provider, as @nestjs/throttler takes it: exactly
 * one of `useFactory` (with `inject`), `useClass` or `useExisting`.
 */
export type ThrottlekitModuleAsyncOptions = {
  /** Modules whose providers the factory injects (e.g. ConfigModule). */
  imports?: ModuleMetadata["imports"];
  /** Tokens passed to useFactory, in order. Always explicit: no decorator metadata needed. */
  // biome-ignore lint/suspicious/noExplicitAny: Nest's own injection token type.
  inject?: any[];
  useFactory?: (...args: never[]) => ThrottlekitModuleInput | Promise<ThrottlekitModuleInput>;
  /** A class the module instantiates (with its own injections) and asks for the options. */
  useClass?: Type<ThrottlerOptionsFactory>;
  /** A provider already registered (in `imports`) that gives the options. */
  useExisting?: Type<ThrottlerOptionsFactory>;
};

/**
 * Registers throttlekit for a Nest application (global: import it once, in the root module).
 * It provides ThrottlekitGuard; install the guard globally with APP_GUARD or per controller with
 * @UseGuards. Options are validated at bootstrap: a bad one fails startup with a ConfigError.
 * The event hub is injectable as THROTTLEKIT_EVENTS, the `metrics` collector as
 * THROTTLEKIT_METRICS (null when the option is off).
 *
 * @example
 * Module({
 *   imports: [ThrottlekitModule.forRoot({ throttlers: { short: "3/s", long: "100/min" } })],
 *   providers: [{ provide: APP_GUARD, useClass: ThrottlekitGuard }],
 * })(AppModule);
 */
export class ThrottlekitModule implements OnApplicationShutdown {
  constructor(private readonly config: ThrottlekitConfig) {}

  /** Options, or @nestjs/throttler's array of throttlers `[{ name?, ttl, limit }]` (ttl in ms). */
  static forRoot(options: ThrottlekitModuleInput): DynamicModule {
    return ThrottlekitModule.dynamic([{ provide: THROTTLEKIT_OPTIONS, useValue: options }], []);
  }

  /** @example ThrottlekitModule.forRootAsync({ imports: [ConfigModule], inject: [ConfigService], useFactory: (c) => ({ throttlers: c.get("LIMIT") }) }) */
  static forRootAsync(options: ThrottlekitModuleAsyncOptions): DynamicModule {
    const { useFactory, useClass, useExisting } = options;
    const given = [useFactory, useClass, useExisting].filter((u) => u !== undefined).length;
    if (given !== 1) {
      throw new ConfigError([
        {
          option: "ThrottlekitModule.forRootAsync",
          received: options,
          expected: "exactly one of useFactory, useClass or useExisting",
        },
      ]);
    }
    const ask = (f: ThrottlerOptionsFactory) => f.createThrottlerOptions();
    const providers: Provider[] =
      useFactory !== undefined
        ? [
            {
              provide: THROTTLEKIT_OPTIONS,
              useFactory: useFactory as (...args: unknown[]) => unknown,
              inject: options.inject ?? [],
            },
          ]
        : useClass !== undefined
          ? [useClass, { provide: THROTTLEKIT_OPTIONS, useFactory: ask, inject: [useClass] }]
          : [{ provide: THROTTLEKIT_OPTIONS, useFactory: ask, inject: [useExisting!] }];
    return ThrottlekitModule.dynamic(providers, options.imports ?? []);
  }

  private static dynamic(
    providers: Provider[],
    imports: NonNullable<ModuleMetadata["imports"]>,
  ): DynamicModule {
    return {
      module: ThrottlekitModule,
      global: true,
      imports,
      providers: [
        ...providers,
        { provide: THROTTLEKIT_CONFIG, useFactory: resolveOptions, inject: [THROTTLEKIT_OPTIONS] },
        {
          provide: THROTTLEKIT_EVENTS,
          useFactory: (c: ThrottlekitConfig) => c.events,
          inject: [THROTTLEKIT_CONFIG],
        },
        {
          provide: THROTTLEKIT_METRICS,
          useFactory: (c: ThrottlekitConfig) => c.metrics ?? null,
          inject: [THROTTLEKIT_CONFIG],
        },
        ThrottlekitGuard,
        ThrottlekitService,
      ],
      exports: [
        THROTTLEKIT_OPTIONS,
        THROTTLEKIT_CONFIG,
        THROTTLEKIT_EVENTS,
        THROTTLEKIT_METRICS,
        ThrottlekitGuard,
        ThrottlekitService,
      ],
    };
  }

  /**
   * Stops the metrics collector (flushing what is left to a fleet store) and closes the store
   * the module made itself; a store you passed in stays yours to close.
   */
  async onApplicationShutdown(): Promise<void> {
    await this.config.routes.close();
    await this.config.root.close();
    await this.config.metrics?.close();
    if (this.config.ownsStore) await this.config.store.close?.();
  }
}

Module({})(ThrottlekitModule);
Inject(THROTTLEKIT_CONFIG)(ThrottlekitModule, undefined, 0);
