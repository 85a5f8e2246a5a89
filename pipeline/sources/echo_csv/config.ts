import { z } from "zod";
import { inputSettings } from "../settings.ts";

/** `sources.echo_csv` in config.yaml: where the not-applicable CSV is read from (a path or an https URL). */
export const echoCsvSettings = z.object(inputSettings).strict();
export type EchoCsvConfig = z.infer<typeof echoCsvSettings>;
