/**
 * Lightweight `Request` and `Response` for `fromFetch`'s hot path — the idea @hono/node-server
 * uses to serve fetch handlers at nearly raw node:http speed.
 *
 * An undici `Request` costs microseconds to build (a parsed URL, a Headers object, an
 * AbortSignal that follows ours, a body stream), and most handlers read only its method and
 * URL. A `LazyRequest` answers `method`, `url`, `headers` and `signal` itself and builds the
 * real Request only when something needs it (the body, `clone()`, anything else). Likewise a
 * handler's `new Response("text")` becomes a `LightResponse` that remembers its body and init:
 * the adapter sends a string or bytes body as it is, without a ReadableStream and a reader.
 *
 * The catch: since Node 24, undici recognises a Request (or Response) by a private field, which
 * only objects its own constructor made have. Handing a lazy request to the native
 * `new Request(lazy)` or `fetch(lazy)` would throw "Cannot read private member #state". So
 * `installFetchGlobals()` replaces the globals `Request`, `Response` and `fetch` with thin
 * versions that unwrap a lazy object into its real one first, and answer `instanceof` for both
 * kinds. `fromFetch` installs them unless told `{ lazy: false }` (the way out: plain undici
 * objects, no globals touched, slower). Code that kept a reference to the native classes from
 * before the install cannot take a lazy object: that is the price, documented in docs/middleware.md.
 */

type RequestInput = ConstructorParameters<typeof Request>[0];
type HeadersInit = ConstructorParameters<typeof Headers>[0];
type BodyInit = ConstructorParameters<typeof Response>[0];

const NativeRequest = globalThis.Request;
const NativeResponse = globalThis.Response;
const nativeFetch = globalThis.fetch;
const isInstance = (type: unknown, value: unknown): boolean =>
  Function.prototype[Symbol.hasInstance].call(type as () => void, value);

// ---- Request ----

/** What a lazy request is made of: answered cheaply, or called when first needed. */
export interface RequestSource {
  method: string;
  /** The absolute URL. */
  url(): string;
  headers(): HeadersInit;
  /** The body, or null for a request without one (called at most once). */
  body(): ReadableStream<Uint8Array> | null;
}

/** Builds (once) and returns the real undici Request behind a lazy one. */
const toReal = Symbol("real request");
/** Aborts the request's signal: the client went away. */
const abortSymbol = Symbol("abort request");

/**
 * A `Request` look-alike over a `RequestSource`. Its own members are the cheap ones; every
 * other member of `Request.prototype` is forwarded to the real Request, built on first use.
 */
export class LazyRequest {
  readonly #source: RequestSource;
  #url: string | undefined;
  #headers: Headers | undefined;
  #controller: AbortController | undefined;
  /** Set when the client left before anyone asked for the signal. */
  #abortedFor: { reason: unknown } | undefined;
  #real: Request | undefined;

  constructor(source: RequestSource) {
    this.#source = source;
  }

  get method(): string {
    return this.#source.method;
  }

  get url(): string {
    return (this.#url ??= this.#source.url());
  }

  get headers(): Headers {
    if (this.#real !== undefined) return this.#real.headers;
    return (this.#headers ??= new Headers(this.#source.headers()));
  }

  /** Aborted when the client goes away; the same signal before and after the real Request. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#abortedFor !== undefined) this.#controller.abort(this.#abortedFor.reason);
    }
    return this.#controller.signal;
  }

  get bodyUsed(): boolean {
    return this.#real?.bodyUsed ?? false;
  }

  [abortSymbol](reason?: unknown): void {
    if (this.#controller === undefined) this.#abortedFor = { reason };
    else this.#controller.abort(reason);
  }

  [toReal](): Request {
    if (this.#real !== undefined) return this.#real;
    const body = this.#source.body();
    this.#real = new NativeRequest(this.url, {
      method: this.method,
      // Headers the handler already changed are the ones the real request gets.
      headers: this.#headers ?? this.#source.headers(),
      body,
      signal: this.signal,
      // A streamed request body must say so (the fetch standard's "half duplex").
      ...(body === null ? {} : { duplex: "half" }),
    } as RequestInit);
    this.#headers = undefined;
    return this.#real;
  }
}

/** The real Request behind `request` if it is a lazy one, else `request` itself. */
export function realRequest<T>(request: T): T | Request {
  return request instanceof LazyRequest ? request[toReal]() : request;
}

/** Aborts a lazy request's signal (nothing to do if no one asked for it). */
export function abortLazyRequest(request: LazyRequest, reason?: unknown): void {
  request[abortSymbol](reason);
}

// ---- Response ----

const TEXT_PLAIN = "text/plain;charset=UTF-8";
/** Statuses whose response has no body (the fetch standard's "null body status"). */
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

/** Builds (once) and returns the real undici Response behind a light one. */
const toRealResponse = Symbol("real response");
/** The body as bytes if it was a string or bytes and nothing has touched it; else undefined. */
const knownBodySymbol = Symbol("known body");
/** The headers as a list if no Headers object was made; else undefined. */
const knownHeadersSymbol = Symbol("known headers");

/**
 * A `Response` that keeps a string or bytes body as it was given. `status`, `statusText`,
 * `ok` and `headers` are answered from the constructor's arguments; anything else (the body
 * stream, `text()`, `clone()` …) builds the real Response first. Any other body, or an init
 * that the native constructor would have to check, makes the real one at once.
 */
export class LightResponse {
  #body: Uint8Array | string | null = null;
  #init: ResponseInit | undefined;
  #headers: Headers | undefined;
  #real: Response | undefined;

  constructor(body?: BodyInit | null, init?: ResponseInit) {
    const plainStatus =
      init === undefined ||
      (init.statusText === undefined &&
        (init.status === undefined ||
          (Number.isInteger(init.status) && init.status >= 200 && init.status <= 599)));
    const knownBody = body == null || typeof body === "string" || body instanceof Uint8Array;
    if (
      !plainStatus ||
      !knownBody ||
      (body != null && init?.status !== undefined && NULL_BODY_STATUS.has(init.status))
    ) {
      this.#real = new NativeResponse(body, init);
      return;
    }
    // The fetch standard copies a byte body: later changes to the caller's array do not show.
    this.#body =
      body instanceof Uint8Array ? Uint8Array.prototype.slice.call(body) : (body ?? null);
    this.#init = init;
    if (init?.headers !== undefined) {
      this.#headers = new Headers(init.headers); // checked now, as the native constructor does
      if (typeof body === "string" && !this.#headers.has("content-type"))
        this.#headers.set("content-type", TEXT_PLAIN);
    }
  }

  get status(): number {
    return this.#real?.status ?? this.#init?.status ?? 200;
  }

  get statusText(): string {
    return this.#real?.statusText ?? "";
  }

  get ok(): boolean {
    const status = this.status;
    return status >= 200 && status <= 299;
  }

  get headers(): Headers {
    if (this.#real !== undefined) return this.#real.headers;
    return (this.#headers ??= new Headers(
      typeof this.#body === "string" ? { "content-type": TEXT_PLAIN } : undefined,
    ));
  }

  get bodyUsed(): boolean {
    return this.#real?.bodyUsed ?? false;
  }

  /** True for a LightResponse itself (`instanceof` also answers true for native ones). */
  static isLight(value: unknown): value is LightResponse {
    return typeof value === "object" && value !== null && #body in value;
  }

  [knownHeadersSymbol](): [string, string][] | undefined {
    if (this.#real !== undefined || this.#headers !== undefined) return undefined;
    return typeof this.#body === "string" ? [["content-type", TEXT_PLAIN]] : [];
  }

  [knownBodySymbol](): Uint8Array | null | undefined {
    if (this.#real !== undefined) return undefined;
    const body = this.#body;
    return typeof body === "string" ? Buffer.from(body) : body;
  }

  [toRealResponse](): Response {
    if (this.#real !== undefined) return this.#real;
    const init = this.#init;
    this.#real = new NativeResponse(this.#body, {
      status: init?.status,
      headers: this.headers,
    });
    this.#headers = undefined;
    return this.#real;
  }
}

/**
 * A light response's headers as a TSGI header list while it has no Headers object (no one has
 * asked for `headers`, and its init gave none): only the content type of a string body.
 * Undefined for any other response.
 */
export function knownHeaders(response: unknown): [string, string][] | undefined {
  return LightResponse.isLight(response) ? response[knownHeadersSymbol]() : undefined;
}

/**
 * A light response's body as bytes (null: no body) while no one has read it as a stream;
 * undefined for any other response.
 */
export function knownBody(response: unknown): Uint8Array | null | undefined {
  return LightResponse.isLight(response) ? response[knownBodySymbol]() : undefined;
}

// ---- Forwarding the rest of Request and Response ----

/**
 * Gives `lazy`'s prototype every member of `native`'s it does not define itself, each one
 * forwarded to the real object (`real`): getters read it, methods call it. Symbol-keyed members
 * too (Node's `util.inspect.custom` shows the real object).
 */
function forwardTheRest(
  lazy: object,
  native: object,
  real: (self: object) => Record<PropertyKey, unknown>,
): void {
  for (const key of Reflect.ownKeys(native)) {
    if (key === "constructor" || key === Symbol.toStringTag || Object.hasOwn(lazy, key)) continue;
    const descriptor = Object.getOwnPropertyDescriptor(native, key)!;
    if (descriptor.get !== undefined)
      Object.defineProperty(lazy, key, {
        configurable: true,
        get(this: object) {
          return real(this)[key];
        },
      });
    else if (typeof descriptor.value === "function")
      Object.defineProperty(lazy, key, {
        configurable: true,
        writable: true,
        value(this: object, ...args: unknown[]) {
          return (real(this)[key] as (...a: unknown[]) => unknown)(...args);
        },
      });
  }
}

forwardTheRest(
  LazyRequest.prototype,
  NativeRequest.prototype,
  (self) => (self as LazyRequest)[toReal]() as unknown as Record<PropertyKey, unknown>,
);
forwardTheRest(
  LightResponse.prototype,
  NativeResponse.prototype,
  (self) => (self as LightResponse)[toRealResponse]() as unknown as Record<PropertyKey, unknown>,
);

// ---- The globals ----

/** `Request` as a global: unwraps a lazy request given as input; `instanceof` knows both. */
const GlobalRequest = class Request extends NativeRequest {
  static override [Symbol.hasInstance](value: unknown): boolean {
    return isInstance(this === GlobalRequest ? NativeRequest : this, value);
  }

  constructor(input: RequestInput, init?: RequestInit) {
    super(realRequest(input), init);
  }
};

/** `Response` as a global: a LightResponse, which `instanceof` counts as a native one too. */
const GlobalResponse = LightResponse as unknown as typeof Response;
Object.defineProperty(LightResponse, Symbol.hasInstance, {
  value(this: unknown, value: unknown): boolean {
    return isInstance(this === LightResponse ? NativeResponse : this, value);
  },
});
Object.defineProperty(LightResponse, "name", { value: "Response" });

// The lazy objects are Requests and Responses to the prototype chain (and to `instanceof`):
// the static Response.json(), .error() and .redirect() are inherited.
Object.setPrototypeOf(LazyRequest.prototype, GlobalRequest.prototype);
Object.setPrototypeOf(LightResponse.prototype, NativeResponse.prototype);
Object.setPrototypeOf(LightResponse, NativeResponse);

/** `fetch` as a global: unwraps a lazy request given as input. */
function fetch(input: RequestInput, init?: RequestInit): Promise<Response> {
  return nativeFetch(realRequest(input), init);
}

/** True once `installFetchGlobals()` has run. */
export function fetchGlobalsInstalled(): boolean {
  return globalThis.Request === GlobalRequest;
}

/**
 * Replaces the globals `Request`, `Response` and `fetch` with the versions that accept lazy
 * requests (see the top of this file). Idempotent.
 */
export function installFetchGlobals(): void {
  if (fetchGlobalsInstalled()) return;
  for (const [name, value] of [
    ["Request", GlobalRequest],
    ["Response", GlobalResponse],
    ["fetch", fetch],
  ] as const)
    Object.defineProperty(globalThis, name, { value, writable: true, configurable: true });
}
