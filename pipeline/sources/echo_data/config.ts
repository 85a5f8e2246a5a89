import { z } from "zod";
import { inputSettings } from "../settings.ts";

/** `sources.echo_data` in config.yaml: where the vendor's data.json is read from (a path or an https URL). */
export const echoDataSettings = z.object(inputSettings).strict();
export type EchoDataConfig = z.infer<typeof echoDataSettings>;
