import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["**/node_modules/**", "**/.data/**", "**/dist/**", "**/public/vendor/**", "artifacts/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: false } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-console": ["error", { allow: ["error"] }],
    },
  },
  {
    // The chart page: plain browser ES modules served as-is.
    files: ["services/gateway/public/**/*.js"],
    languageOptions: { globals: globals.browser },
  },
  {
    files: ["bench/**", "scripts/**", "**/test/**"],
    rules: { "no-console": "off" },
  },
);
