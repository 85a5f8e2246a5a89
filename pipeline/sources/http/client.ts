import { PipelineError } from "../../lib/errors.ts";

/**
 * The one HTTP client every source uses. This first version owns timeouts and the response size cap;
 * retries, backoff, rate limits and conditional GET are added here (and only here) as upstream sources
 * arrive.
 */
export interface HttpOptions {
  timeoutMs?: number;
  maxBytes?: number;
}

const defaultTimeoutMs = 60_000;
const defaultMaxBytes = 512 * 1024 * 1024;

export async function httpGetBytes(url: string, options: HttpOptions = {}): Promise<Uint8Array> {
  const maxBytes = options.maxBytes ?? defaultMaxBytes;
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs ?? defaultTimeoutMs) });
  } catch (error) {
    const reason = error instanceof Error && error.name === "TimeoutError" ? "timed out" : String(error);
    throw new PipelineError(`request failed: ${reason}`, { location: { file: url } });
  }
  if (!response.ok) {
    throw new PipelineError(`HTTP ${response.status} ${response.statusText}`, { location: { file: url } });
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (response.body) {
    for await (const chunk of response.body) {
      total += chunk.byteLength;
      if (total > maxBytes) {
        throw new PipelineError(`response larger than the ${maxBytes}-byte limit`, {
          location: { file: url },
        });
      }
      chunks.push(chunk);
    }
  }
  const declared = Number(response.headers.get("content-length") ?? Number.NaN);
  if (Number.isFinite(declared) && declared !== total) {
    throw new PipelineError(`truncated body: got ${total} of ${declared} bytes`, { location: { file: url } });
  }
  return Buffer.concat(chunks);
}
