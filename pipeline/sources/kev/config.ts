import { z } from "zod";
import { upstreamSettings } from "../settings.ts";

/** `sources.kev` in config.yaml: only the keys every upstream source has. */
export const kevSettings = z.object({ ...upstreamSettings }).strict();
export type KevConfig = z.infer<typeof kevSettings>;
