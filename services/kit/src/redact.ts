/**
 * Hides the user-info part of every URL in `text` (`postgres://app:S3cret@db` → `postgres://***@db`), so
 * connection strings can appear in logs and error messages without their passwords or tokens.
 */
export function redactUrlCredentials(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@,]+@/gi, "$1***@");
}
