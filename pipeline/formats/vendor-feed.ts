import { join } from "node:path";
import { z } from "zod";

/**
 * data.json as we publish it: the vendor's own shape `{package: {vulnerability id: {fixed_version?, …}}}`,
 * every package/CVE of the input with the vendor's other fields unchanged and fixed_version as decided, so
 * scanners that read the vendor's data.json keep working. One package per line, sorted in byte order.
 */
export const vendorFeedFileName = "data.json";

export const vendorEntrySchema = z
  .looseObject({
    fixed_version: z
      .string()
      .min(1)
      .optional()
      .describe('The first fixed version; "0" or an unaffected-from version when not applicable.'),
    severity: z.string().optional(),
  })
  .describe("The vendor's fields for one vulnerability of one package, kept as given.");

export const vendorFeedSchema = z
  .record(z.string().min(1), z.record(z.string().min(1), vendorEntrySchema))
  .describe("Source package → vulnerability id → entry.");
export type VendorFeed = z.infer<typeof vendorFeedSchema>;

export function vendorFeedPath(outputDir: string): string {
  return join(outputDir, vendorFeedFileName);
}
