import type { z } from "zod";

/** One line per problem, each starting with the dotted path of the field it names ("high: must be >= low"). */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.map(String).join(".");
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join("; ");
}
