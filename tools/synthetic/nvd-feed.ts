import type { IncomingMessage, ServerResponse } from "node:http";
import { nvdTime } from "./dates.ts";
import { NvdFlag, type NvdFlagValue, nvdPage, nvdRecord } from "./nvd.ts";
import { Random } from "./random.ts";

/**
 * A synthetic NVD API 2.0 addressed by record index, so that nothing is held in memory: record `i` is
 * always the same CVE (nvd.ts's record, in the real shape), last modified between 2018 and 2026. About 3 %
 * are Rejected, about 2 % tagged disputed and some more say ** DISPUTED ** in the description only. The
 * NVD benchmark serves it over HTTP; the adapter tests serve pages of it.
 */

const recordsPerYear = 12_500;
/** The feed's seed: its records are the same whoever serves them. */
const feedSeed = 1;

export function syntheticCveId(index: number): string {
  return `CVE-${1999 + Math.floor(index / recordsPerYear)}-${10_000 + (index % recordsPerYear)}`;
}

function syntheticFlag(index: number): NvdFlagValue {
  if (index % 31 === 7) return NvdFlag.rejected;
  if (index % 53 === 11) return NvdFlag.taggedDisputed;
  if (index % 211 === 5) return NvdFlag.descriptionDisputed;
  return NvdFlag.plain;
}

const base = Date.UTC(2018, 0, 1);
const span = Date.UTC(2026, 0, 1) - base;

function lastModifiedMoment(index: number): number {
  return base + Math.floor(Random.of(feedSeed, "nvd-feed-modified", index).next() * span);
}

/** lastModified without a zone, as NVD writes it. */
export function syntheticLastModified(index: number): string {
  return nvdTime(lastModifiedMoment(index));
}

/** Record `index` as NVD serves it inside `vulnerabilities[].cve`. */
export function syntheticCve(index: number): Record<string, unknown> {
  const random = Random.of(feedSeed, "nvd-feed", index);
  const lastModified = lastModifiedMoment(index);
  const published = lastModified - random.int(400) * 86_400_000;
  const subject = { seed: feedSeed, cve: index, id: syntheticCveId(index), flag: syntheticFlag(index) };
  return nvdRecord({ ...subject, published, lastModified }, random);
}

/**
 * A request handler serving `total` synthetic records: full paged pulls (`resultsPerPage` ≤ 2000,
 * `startIndex`) and per-CVE look-ups (`cveId`). Date windows are not modelled (the benchmark pulls all).
 */
export function syntheticNvdHandler(total: number) {
  return (request: IncomingMessage, response: ServerResponse): void => {
    const url = new URL(request.url ?? "/", "http://localhost");
    const params = url.searchParams;
    const send = (status: number, body: string) => {
      response.writeHead(status, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
      });
      response.end(body);
    };
    if (params.has("lastModStartDate") || params.has("lastModEndDate")) {
      send(400, JSON.stringify({ message: "date windows are not modelled by this server" }));
      return;
    }
    const cveId = params.get("cveId");
    if (cveId !== null) {
      const match = /^CVE-(\d{4})-(\d+)$/.exec(cveId);
      const index = match ? (Number(match[1]) - 1999) * recordsPerYear + Number(match[2]) - 10_000 : -1;
      const found = index >= 0 && index < total && syntheticCveId(index) === cveId;
      send(200, JSON.stringify(nvdPage(found ? [syntheticCve(index)] : [], 0, found ? 1 : 0, found ? 1 : 0)));
      return;
    }
    const perPage = Math.min(2000, Math.max(1, Number(params.get("resultsPerPage") ?? 2000) || 2000));
    const startIndex = Math.max(0, Number(params.get("startIndex") ?? 0) || 0);
    const end = Math.min(total, startIndex + perPage);
    const records: unknown[] = [];
    for (let index = startIndex; index < end; index += 1) records.push(syntheticCve(index));
    send(200, JSON.stringify(nvdPage(records, startIndex, perPage, total)));
  };
}
