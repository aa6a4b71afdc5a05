/** The message of anything thrown, for one-line reports. */
export const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));
