/** Durable name of the recorder's consumer: every recorder of a namespace shares it and splits the work. */
export const RECORDER_DURABLE = "recorder";
