/**
 * The one HTTP client every source adapter shares (Debian Security Tracker, OSV, NVD, data.json by URL).
 *
 *   const http = createHttpClient({ cacheDir, hosts: registry.hostPolicies() });
 *   await http.getBytes(url, options?)          → { body, notModified, status, size, sha256, … }
 *   await http.getJson<T>(url, options?)        → { data, … }           (body parsed as JSON)
 *   await http.getToFile(url, options?)         → { path, … }           (streamed into the cache, never in memory)
 *   await http.postJson<T>(url, body, options?) → { data, … }           (OSV querybatch; never cached)
 *   http.stats()                                → { requests, retries, bytesReceived, notModified, failures,
 *                                                   waitMs, byHost: { "<host>": { … } } }
 *
 * Per attempt: a connect timeout (until the response headers, per redirect hop) and a total timeout. Failed
 * attempts are retried with exponential backoff and full jitter, or after `Retry-After` (seconds or
 * HTTP-date, capped by maxDelayMs), on network errors, timeouts, truncated bodies, 429/500/502/503/504 and, on hosts with
 * `throttle403` (NVD), 403 — until maxAttempts or retryBudgetMs is spent. Then an `HttpError` (status, url
 * without secrets, attempts, transient) is thrown and the caller decides whether its source is degraded.
 * A body over maxBytes is an error at once; the client's own maxBytes is a ceiling that no host policy or
 * request raises. Each host may have a rolling-window rate limit (every attempt takes a slot);
 * `rateLimiting: false` switches all limits off for tests and benchmarks.
 *
 * Redirects are followed by hand, hop by hop (at most maxRedirects): only to the request's own host
 * (host:port) over https, or within the very same plain-http origin. Anything else (another host or port,
 * https → http, a request with secret headers going to plain http) is an HttpError of kind `redirect`,
 * never retried, naming both origins. Timeouts, the size limit and the conditional cache span the hops.
 *
 * With `cacheDir`, GETs are conditional: the body and its ETag/Last-Modified are kept on disk (atomically);
 * the next request sends If-None-Match/If-Modified-Since, and a 304 returns the cached body (or path) with
 * `notModified: true`. Header values under a secret name (`apiKey`, Authorization, …) never reach logs,
 * errors, stats or results; nor do URL credentials or credential-like query parameters.
 *
 * What a host policy holds is in hosts.ts; each source declares the policies of the hosts it calls in its
 * folder (source.ts) and the registry merges them. Clock, sleep and random are
 * injectable so tests never wait for real.
 */
import { createHash } from "node:crypto";
import { type FileHandle, open, readFile, rename, rm } from "node:fs/promises";
import { setTimeout as delay } from "node:timers/promises";
import { PipelineError } from "../../lib/errors.ts";
import { log } from "../../lib/log.ts";
import {
  type CacheMeta,
  type CachePaths,
  cachePaths,
  dropCacheEntry,
  fileSha256,
  readCacheMeta,
  temporaryPathFor,
  writeCacheEntry,
  writeCacheMeta,
} from "./cache.ts";
import { HttpError, type HttpFailureKind } from "./errors.ts";
import { defaultPolicy, type HostPolicy } from "./hosts.ts";
import { createRollingWindowLimiter, type RateLimit, type RollingWindowLimiter } from "./rate-limit.ts";
import { redactText, redactUrl, secretHeaderValues } from "./redact.ts";
import { backoffDelay, parseRetryAfter, retryableStatuses } from "./retry.ts";

export { HttpError, type HttpFailureKind } from "./errors.ts";
export type { HostPolicy } from "./hosts.ts";
export type { RateLimit } from "./rate-limit.ts";

export interface HttpLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

export interface HttpClientOptions extends HostPolicy {
  /** Per-host policies keyed by `host:port` or hostname (see SourceRegistry.hostPolicies()). */
  hosts?: Record<string, HostPolicy>;
  /** Directory of the conditional-GET cache; required by getToFile. */
  cacheDir?: string;
  /** false switches every rate limit off (tests, benchmarks). */
  rateLimiting?: boolean;
  userAgent?: string;
  /** Epoch milliseconds; drives Retry-After dates, the retry budget, the rate limiter and fetchedAt. */
  clock?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** In [0, 1): the backoff jitter. */
  random?: () => number;
  logger?: HttpLogger;
}

export interface HttpRequestOptions {
  headers?: Record<string, string>;
  connectTimeoutMs?: number;
  timeoutMs?: number;
  maxBytes?: number;
  maxAttempts?: number;
  retryBudgetMs?: number;
  /** false: neither use nor update the cache for this GET. Default: cache when the client has cacheDir. */
  cache?: boolean;
}

export interface HttpResult {
  /** The requested URL without secrets. */
  url: string;
  /** The final status: 200-299, or 304 when notModified. */
  status: number;
  /** True when the server answered 304 and the cached body is returned: nothing changed upstream. */
  notModified: boolean;
  /** Response headers (values scrubbed of secrets). */
  headers: Record<string, string>;
  size: number;
  sha256: string;
  /** When this body was received (ISO-8601, client clock): for a 304, when the cached copy was. */
  fetchedAt: string;
  attempts: number;
}
export interface HttpBytesResult extends HttpResult {
  body: Uint8Array;
}
export interface HttpJsonResult<T> extends HttpResult {
  data: T;
}
export interface HttpFileResult extends HttpResult {
  /** The cache file holding the body; replaced atomically by later fetches, so read it before the next. */
  path: string;
}

export interface HttpStats {
  /** Requests sent: attempts, retries included, and the hops of followed redirects. */
  requests: number;
  retries: number;
  /** Body bytes as delivered (after decompression), failed attempts included. */
  bytesReceived: number;
  notModified: number;
  /** Calls that ended in an error. */
  failures: number;
  /** Time spent waiting: backoff, Retry-After and the rate limiter. */
  waitMs: number;
}
export interface HttpClientStats extends HttpStats {
  byHost: Record<string, HttpStats>;
}

export interface HttpClient {
  getBytes(url: string, options?: HttpRequestOptions): Promise<HttpBytesResult>;
  getJson<T = unknown>(url: string, options?: HttpRequestOptions): Promise<HttpJsonResult<T>>;
  getToFile(url: string, options?: HttpRequestOptions): Promise<HttpFileResult>;
  postJson<T = unknown>(url: string, body: unknown, options?: HttpRequestOptions): Promise<HttpJsonResult<T>>;
  stats(): HttpClientStats;
}

type ResolvedPolicy = {
  -readonly [Key in keyof typeof defaultPolicy]: (typeof defaultPolicy)[Key] extends boolean
    ? boolean
    : number;
} & { headers: Record<string, string>; secrets: string[] };

interface Request {
  method: "GET" | "POST";
  url: URL;
  shownUrl: string;
  host: string;
  policy: ResolvedPolicy;
  headers: Record<string, string>;
  body: string | undefined;
  sink: "bytes" | "file";
  cache: CachePaths | undefined;
}

type Received =
  | { notModified: true; headers: Headers }
  | {
      notModified: false;
      status: number;
      headers: Headers;
      body: Uint8Array | undefined;
      temporaryFile: string | undefined;
      size: number;
      sha256: string;
    };

/** One failed attempt, before the retry decision. Never leaves this module. */
class AttemptFailure extends Error {
  readonly kind: HttpFailureKind;
  readonly status: number | undefined;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;

  constructor(
    kind: HttpFailureKind,
    message: string,
    details: { status?: number; retryable: boolean; retryAfterMs?: number | undefined },
  ) {
    super(message);
    this.kind = kind;
    this.status = details.status;
    this.retryable = details.retryable;
    this.retryAfterMs = details.retryAfterMs;
  }
}

const policyKeys = Object.keys(defaultPolicy) as (keyof typeof defaultPolicy)[];

function emptyStats(): HttpStats {
  return { requests: 0, retries: 0, bytesReceived: 0, notModified: 0, failures: 0, waitMs: 0 };
}

export function createHttpClient(options: HttpClientOptions = {}): HttpClient {
  const clock = options.clock ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => delay(ms).then(() => undefined));
  const random = options.random ?? Math.random;
  const logger = options.logger ?? log;
  const hosts = options.hosts ?? {};
  const userAgent = options.userAgent ?? "echo-advisory";
  const total = emptyStats();
  const byHost = new Map<string, HttpStats>();
  const limiters = new Map<string, RollingWindowLimiter | undefined>();

  function count(host: string, field: keyof HttpStats, amount = 1): void {
    total[field] += amount;
    let stats = byHost.get(host);
    if (!stats) {
      stats = emptyStats();
      byHost.set(host, stats);
    }
    stats[field] += amount;
  }

  function hostPolicyFor(url: URL): HostPolicy {
    return hosts[url.host] ?? hosts[url.hostname] ?? {};
  }

  function limiterFor(url: URL): RollingWindowLimiter | undefined {
    if (!limiters.has(url.host)) {
      const limit: RateLimit | undefined =
        options.rateLimiting === false ? undefined : (hostPolicyFor(url).rateLimit ?? options.rateLimit);
      limiters.set(url.host, limit ? createRollingWindowLimiter(limit, clock, sleep) : undefined);
    }
    return limiters.get(url.host);
  }

  function prepare(
    method: "GET" | "POST",
    rawUrl: string,
    sink: "bytes" | "file",
    requestOptions: HttpRequestOptions,
    extraHeaders: Record<string, string>,
    body?: string,
  ): Request {
    let url: URL;
    try {
      url = new URL(rawUrl);
    } catch {
      throw new PipelineError("not a valid URL", { location: { file: redactUrl(rawUrl, []) } });
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new PipelineError(`unsupported URL scheme ${url.protocol}`, {
        location: { file: redactUrl(url, []) },
      });
    }
    // fetch refuses URLs with credentials: send them as Basic authorization (a secret header) instead.
    const credentials: Record<string, string> = {};
    const urlSecrets: string[] = [];
    if (url.username || url.password) {
      const user = decodeURIComponent(url.username);
      const password = decodeURIComponent(url.password);
      credentials.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
      if (password) urlSecrets.push(password, url.password);
      url.username = "";
      url.password = "";
    }
    const hostPolicy = hostPolicyFor(url);
    const resolved = {} as Record<string, unknown>;
    for (const key of policyKeys) {
      resolved[key] =
        (requestOptions as Record<string, unknown>)[key] ??
        hostPolicy[key] ??
        options[key] ??
        defaultPolicy[key];
    }
    // The client's own limit (the config's http.max_response_mb) is a ceiling no host or request raises.
    if (options.maxBytes !== undefined) {
      resolved.maxBytes = Math.min(resolved.maxBytes as number, options.maxBytes);
    }
    const headers: Record<string, string> = {
      "user-agent": userAgent,
      ...extraHeaders,
      ...options.headers,
      ...hostPolicy.headers,
      ...requestOptions.headers,
      ...credentials,
    };
    const secrets = [
      ...urlSecrets,
      ...secretHeaderValues(headers, [...(options.secretHeaders ?? []), ...(hostPolicy.secretHeaders ?? [])]),
    ];
    const policy = { ...resolved, headers, secrets } as ResolvedPolicy;
    const useCache = method === "GET" && options.cacheDir !== undefined && requestOptions.cache !== false;
    const shownUrl = redactUrl(url, secrets);
    if (sink === "file" && !useCache) {
      throw new PipelineError("getToFile needs the client's cacheDir (and cache not switched off)", {
        location: { file: shownUrl },
      });
    }
    return {
      method,
      url,
      shownUrl,
      host: url.host,
      policy,
      headers,
      body,
      sink,
      cache: useCache && options.cacheDir !== undefined ? cachePaths(options.cacheDir, url) : undefined,
    };
  }

  async function execute(request: Request): Promise<HttpResult & { body?: Uint8Array; path?: string }> {
    try {
      return await executeWithRetries(request);
    } catch (error) {
      count(request.host, "failures");
      throw error;
    }
  }

  async function executeWithRetries(
    request: Request,
  ): Promise<HttpResult & { body?: Uint8Array; path?: string }> {
    const { host, shownUrl } = request;
    let cached = request.cache ? await readCacheMeta(request.cache) : undefined;
    const started = clock();
    for (let attempt = 1; ; attempt += 1) {
      const waited = (await limiterFor(request.url)?.acquire()) ?? 0;
      if (waited > 0) count(host, "waitMs", waited);
      count(host, "requests");
      let received: Received;
      try {
        received = await attemptOnce(request, conditionalHeaders(cached));
      } catch (error) {
        if (!(error instanceof AttemptFailure)) throw error;
        const wait = decideRetry(request, error, attempt, started);
        count(host, "retries");
        count(host, "waitMs", wait);
        await sleep(wait);
        continue;
      }

      if (received.notModified) {
        if (!cached || !request.cache) {
          throw giveUp(
            request,
            new AttemptFailure(
              "unexpected_304",
              "HTTP 304 Not Modified for a request that was not conditional",
              {
                status: 304,
                retryable: false,
              },
            ),
            attempt,
          );
        }
        const fromCache = await readCachedBody(request, cached);
        if (fromCache === undefined) {
          // The cached body no longer matches its metadata: forget it and ask again, unconditionally.
          logger.warn("HTTP cache entry damaged; fetching again", { url: shownUrl });
          await dropCacheEntry(request.cache);
          cached = undefined;
          continue;
        }
        cached = await refreshMeta(request.cache, cached, received.headers);
        count(host, "notModified");
        logger.debug("HTTP not modified", { url: shownUrl, attempts: attempt });
        return {
          ...resultFields(request, received.headers, 304, true, cached, attempt),
          ...fromCache,
        };
      }

      const meta: CacheMeta = {
        url: shownUrl,
        ...validatorsOf(received.headers),
        fetchedAt: new Date(clock()).toISOString(),
        size: received.size,
        sha256: received.sha256,
      };
      logger.debug("HTTP fetched", {
        url: shownUrl,
        status: received.status,
        bytes: received.size,
        attempts: attempt,
      });
      const result = resultFields(request, received.headers, received.status, false, meta, attempt);
      if (request.sink === "file" && request.cache && received.temporaryFile) {
        try {
          await rename(received.temporaryFile, request.cache.body);
        } catch (error) {
          await rm(received.temporaryFile, { force: true });
          throw error;
        }
        await writeCacheMeta(request.cache, meta);
        return { ...result, path: request.cache.body };
      }
      const body = received.body ?? new Uint8Array();
      if (request.cache) await writeCacheEntry(request.cache, body, meta);
      return { ...result, body };
    }
  }

  /** The wait before the next attempt, or throws the final HttpError when retrying is over. */
  function decideRetry(request: Request, failure: AttemptFailure, attempt: number, started: number): number {
    const { policy } = request;
    if (!failure.retryable) throw giveUp(request, failure, attempt);
    if (attempt >= policy.maxAttempts) {
      throw giveUp(request, failure, attempt, `gave up after ${attempt} attempts`);
    }
    const wait =
      failure.retryAfterMs !== undefined
        ? Math.min(failure.retryAfterMs, policy.maxDelayMs)
        : backoffDelay(attempt, policy, random);
    const elapsed = clock() - started;
    if (elapsed + wait > policy.retryBudgetMs) {
      throw giveUp(
        request,
        failure,
        attempt,
        `gave up after ${attempt} attempts: the ${formatMs(policy.retryBudgetMs)} retry budget is spent`,
      );
    }
    logger.warn("HTTP attempt failed; retrying", {
      url: request.shownUrl,
      attempt,
      maxAttempts: policy.maxAttempts,
      reason: redactText(failure.message, policy.secrets),
      waitMs: wait,
    });
    return wait;
  }

  function giveUp(request: Request, failure: AttemptFailure, attempts: number, why?: string): HttpError {
    const message = redactText(why ? `${failure.message} (${why})` : failure.message, request.policy.secrets);
    return new HttpError(message, {
      kind: failure.kind,
      status: failure.status,
      url: request.shownUrl,
      attempts,
      transient: failure.retryable,
      hint: failure.retryable ? "the server is throttling or unavailable; try again later" : undefined,
    });
  }

  async function attemptOnce(request: Request, conditional: Record<string, string>): Promise<Received> {
    const { policy } = request;
    const controller = new AbortController();
    let timedOut: string | undefined;
    const abortBecause = (why: string) => () => {
      timedOut ??= why;
      controller.abort();
    };
    const totalTimer = setTimeout(
      abortBecause(`no complete response within ${formatMs(policy.timeoutMs)}`),
      policy.timeoutMs,
    );
    let connectTimer: ReturnType<typeof setTimeout> | undefined;
    // Redirects are followed here, one hop at a time, so that each target is checked before anything (a
    // secret header, the conditional headers, a POST body) is sent to it.
    let hop = { url: request.url, method: request.method, body: request.body };
    let headers = { ...request.headers, ...conditional };
    try {
      let response: Response;
      for (let redirects = 0; ; redirects += 1) {
        connectTimer = setTimeout(
          abortBecause(`no response headers within ${formatMs(policy.connectTimeoutMs)}`),
          policy.connectTimeoutMs,
        );
        try {
          response = await fetch(hop.url, {
            method: hop.method,
            headers,
            body: hop.body,
            signal: controller.signal,
            redirect: "manual",
          });
        } catch (error) {
          if (timedOut) throw new AttemptFailure("timeout", `timed out: ${timedOut}`, { retryable: true });
          throw new AttemptFailure("network", `request failed: ${networkReason(error)}`, { retryable: true });
        } finally {
          clearTimeout(connectTimer);
        }
        const location = redirectStatuses.has(response.status) ? response.headers.get("location") : null;
        if (location === null) break;
        await discard(response);
        const target = redirectTarget(request, hop.url, location, response.status, redirects);
        // As fetch does: 303, and 301/302 after a POST, continue as a GET without the body.
        const asGet =
          response.status === 303 ||
          (hop.method === "POST" && response.status !== 307 && response.status !== 308);
        if (asGet && hop.method !== "GET") {
          const { "content-type": _dropped, ...rest } = headers;
          headers = rest;
        }
        hop = asGet ? { url: target, method: "GET", body: undefined } : { ...hop, url: target };
        count(request.host, "requests");
      }

      const { status } = response;
      if (status === 304) {
        await discard(response);
        return { notModified: true, headers: response.headers };
      }
      if (!response.ok) {
        await discard(response);
        const retryable = retryableStatuses.has(status) || (status === 403 && policy.throttle403);
        throw new AttemptFailure("status", `HTTP ${status} ${response.statusText}`.trim(), {
          status,
          retryable,
          retryAfterMs: retryable ? parseRetryAfter(response.headers.get("retry-after"), clock()) : undefined,
        });
      }

      const declared = declaredLength(response.headers);
      if (declared !== undefined && declared > policy.maxBytes) {
        await discard(response);
        throw tooLarge(policy.maxBytes, `Content-Length is ${declared}`);
      }
      const read = await readBody(request, response, controller, () => timedOut);
      if (declared !== undefined && read.size !== declared) {
        if (read.temporaryFile) await rm(read.temporaryFile, { force: true });
        throw new AttemptFailure("truncated", `truncated body: got ${read.size} of ${declared} bytes`, {
          retryable: true,
        });
      }
      return { notModified: false, status, headers: response.headers, ...read };
    } finally {
      clearTimeout(totalTimer);
      clearTimeout(connectTimer);
    }
  }

  async function readBody(
    request: Request,
    response: Response,
    controller: AbortController,
    timedOut: () => string | undefined,
  ): Promise<{
    body: Uint8Array | undefined;
    temporaryFile: string | undefined;
    size: number;
    sha256: string;
  }> {
    const { maxBytes } = request.policy;
    const hash = createHash("sha256");
    const chunks: Uint8Array[] = [];
    let size = 0;
    let temporaryFile: string | undefined;
    let file: FileHandle | undefined;
    // Errors of the local file system are not the server's: they propagate as they are, never retried.
    let localError: unknown;
    const local = (error: unknown): never => {
      localError = error;
      throw error;
    };
    if (request.sink === "file" && request.cache) {
      try {
        temporaryFile = await temporaryPathFor(request.cache.body);
        file = await open(temporaryFile, "wx");
      } catch (error) {
        await discard(response);
        throw error;
      }
    }
    try {
      if (response.body) {
        // Node's web streams are async iterable; the cast is for the DOM typings that @types/jsdom (the
        // site's chart renderer) pulls in, whose ReadableStream does not declare it.
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          size += chunk.byteLength;
          count(request.host, "bytesReceived", chunk.byteLength);
          if (size > maxBytes) {
            controller.abort();
            throw tooLarge(maxBytes, `more than ${maxBytes} bytes received`);
          }
          hash.update(chunk);
          if (file) {
            await file.write(chunk).catch(local);
          } else {
            chunks.push(chunk);
          }
        }
      }
      if (file) await file.datasync().catch(local);
    } catch (error) {
      await file?.close().catch(() => undefined);
      file = undefined;
      if (temporaryFile) await rm(temporaryFile, { force: true });
      if (error instanceof AttemptFailure || localError !== undefined) throw error;
      const why = timedOut();
      if (why) throw new AttemptFailure("timeout", `timed out: ${why}`, { retryable: true });
      throw new AttemptFailure(
        "truncated",
        `truncated body: the stream was cut after ${size} bytes (${networkReason(error)})`,
        { retryable: true },
      );
    } finally {
      await file?.close();
    }
    return {
      body: request.sink === "bytes" ? Buffer.concat(chunks) : undefined,
      temporaryFile,
      size,
      sha256: hash.digest("hex"),
    };
  }

  /** The cached body (or its path) when it still matches its metadata; undefined when it does not. */
  async function readCachedBody(
    request: Request,
    meta: CacheMeta,
  ): Promise<{ body: Uint8Array } | { path: string } | undefined> {
    const paths = request.cache;
    if (!paths) return undefined;
    try {
      if (request.sink === "file") {
        return (await fileSha256(paths.body)) === meta.sha256 ? { path: paths.body } : undefined;
      }
      const body = await readFile(paths.body);
      return createHash("sha256").update(body).digest("hex") === meta.sha256 ? { body } : undefined;
    } catch {
      return undefined;
    }
  }

  /** A 304 may carry newer validators; keep them for the next request. */
  async function refreshMeta(paths: CachePaths, meta: CacheMeta, headers: Headers): Promise<CacheMeta> {
    const validators = validatorsOf(headers);
    const next = {
      ...meta,
      ...(validators.etag ? { etag: validators.etag } : {}),
      ...(validators.lastModified ? { lastModified: validators.lastModified } : {}),
    };
    if (next.etag !== meta.etag || next.lastModified !== meta.lastModified) await writeCacheMeta(paths, next);
    return next;
  }

  function resultFields(
    request: Request,
    headers: Headers,
    status: number,
    notModified: boolean,
    meta: CacheMeta,
    attempts: number,
  ): HttpResult {
    const shownHeaders: Record<string, string> = {};
    for (const [name, value] of headers) shownHeaders[name] = redactText(value, request.policy.secrets);
    return {
      url: request.shownUrl,
      status,
      notModified,
      headers: shownHeaders,
      size: meta.size,
      sha256: meta.sha256,
      fetchedAt: meta.fetchedAt,
      attempts,
    };
  }

  function parseJson<T>(request: Request, result: HttpResult & { body?: Uint8Array }): HttpJsonResult<T> {
    const { body, ...rest } = result;
    try {
      const text = new TextDecoder("utf-8", { fatal: true }).decode(body ?? new Uint8Array());
      return { ...rest, data: JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text) as T };
    } catch (error) {
      count(request.host, "failures");
      // Not the parser's message: it quotes the start of the body, which could hold part of a secret.
      const position = /position \d+/.exec(error instanceof Error ? error.message : "")?.[0];
      const detail = result.size === 0 ? " (empty body)" : position ? ` (at ${position})` : "";
      throw new HttpError(`response is not valid JSON${detail}`, {
        kind: "invalid_json",
        status: result.status,
        url: request.shownUrl,
        attempts: result.attempts,
        transient: false,
      });
    }
  }

  return {
    async getBytes(url, requestOptions = {}) {
      const result = await execute(prepare("GET", url, "bytes", requestOptions, {}));
      return { ...result, body: result.body ?? new Uint8Array() };
    },
    async getJson<T>(url: string, requestOptions: HttpRequestOptions = {}) {
      const request = prepare("GET", url, "bytes", requestOptions, { accept: "application/json" });
      return parseJson<T>(request, await execute(request));
    },
    async getToFile(url, requestOptions = {}) {
      const result = await execute(prepare("GET", url, "file", requestOptions, {}));
      return { ...result, path: result.path ?? "" };
    },
    async postJson<T>(url: string, body: unknown, requestOptions: HttpRequestOptions = {}) {
      const request = prepare(
        "POST",
        url,
        "bytes",
        requestOptions,
        { accept: "application/json", "content-type": "application/json" },
        JSON.stringify(body),
      );
      return parseJson<T>(request, await execute(request));
    },
    stats() {
      return {
        ...total,
        byHost: Object.fromEntries([...byHost].map(([host, stats]) => [host, { ...stats }])),
      };
    },
  };
}

function conditionalHeaders(meta: CacheMeta | undefined): Record<string, string> {
  if (!meta) return {};
  return {
    ...(meta.etag ? { "if-none-match": meta.etag } : {}),
    ...(meta.lastModified ? { "if-modified-since": meta.lastModified } : {}),
  };
}

function validatorsOf(headers: Headers): Pick<CacheMeta, "etag" | "lastModified" | "contentType"> {
  const etag = headers.get("etag") ?? undefined;
  const lastModified = headers.get("last-modified") ?? undefined;
  const contentType = headers.get("content-type") ?? undefined;
  return {
    ...(etag ? { etag } : {}),
    ...(lastModified ? { lastModified } : {}),
    ...(contentType ? { contentType } : {}),
  };
}

/** Content-Length counts the bytes on the wire: it says nothing about a decompressed body. */
function declaredLength(headers: Headers): number | undefined {
  const encoding = headers.get("content-encoding")?.trim().toLowerCase();
  if (encoding && encoding !== "identity") return undefined;
  const value = headers.get("content-length")?.trim();
  return value && /^\d+$/.test(value) ? Number(value) : undefined;
}

async function discard(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => undefined);
}

function tooLarge(maxBytes: number, detail: string): AttemptFailure {
  return new AttemptFailure("too_large", `response larger than the ${maxBytes}-byte limit (${detail})`, {
    retryable: false,
  });
}

/** The statuses fetch itself would follow; any other 3xx is an answer (an error status, as before). */
const redirectStatuses = new Set([301, 302, 303, 307, 308]);
/** Longer chains are refused: a handful of hops covers any sane server. */
export const maxRedirects = 5;

/**
 * Why a redirect from `from` to `to`, on a request for `requested`, is not followed; undefined when it is.
 * It may lead to the request's own host (host:port) over https, or stay within the very same plain-http
 * origin (no new exposure; never for a request carrying secrets). Another host or port, https → http and
 * credentials in the target are refused. The reason names origins only: never a path or query.
 */
export function redirectRefusal(requested: URL, from: URL, to: URL, secrets: boolean): string | undefined {
  const sameHost = to.host === requested.host && to.username === "" && to.password === "";
  const scheme =
    to.protocol === "https:" || (to.protocol === "http:" && from.protocol === "http:" && !secrets);
  if (sameHost && scheme) return undefined;
  const rule = secrets
    ? "a request carrying secret headers follows redirects only to its own host over https"
    : "redirects are followed only to the request's own host, over https or within the same http origin";
  return `redirect from ${originOf(from)} to ${originOf(to)} refused: ${rule}`;
}

/** The target of a redirect response, or the AttemptFailure (kind `redirect`, never retried) refusing it. */
function redirectTarget(
  request: Request,
  from: URL,
  location: string,
  status: number,
  redirects: number,
): URL {
  const refuse = (why: string) =>
    new AttemptFailure("redirect", `HTTP ${status} ${why}`, { status, retryable: false });
  let to: URL;
  try {
    to = new URL(location, from);
  } catch {
    throw refuse(`redirect from ${originOf(from)} to an unreadable location refused`);
  }
  const refusal = redirectRefusal(request.url, from, to, request.policy.secrets.length > 0);
  if (refusal !== undefined) throw refuse(refusal);
  if (redirects >= maxRedirects)
    throw refuse(`redirect refused: more than ${maxRedirects} redirects in a row`);
  return to;
}

/** scheme://host[:port], without credentials (URL.origin is "null" for schemes other than http(s)). */
function originOf(url: URL): string {
  return url.protocol === "http:" || url.protocol === "https:" ? url.origin : `${url.protocol}//${url.host}`;
}

/** undici hides the reason in `cause` ("fetch failed" → ECONNREFUSED …). */
function networkReason(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
  const detail = cause && typeof cause === "object" ? (cause.code ?? cause.message) : undefined;
  return detail ? `${error.message} (${String(detail)})` : error.message;
}

function formatMs(ms: number): string {
  return ms >= 1000 && ms % 1000 === 0
    ? `${ms / 1000} s`
    : ms >= 1000
      ? `${(ms / 1000).toFixed(1)} s`
      : `${ms} ms`;
}
