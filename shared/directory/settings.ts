import type { FieldError } from "../problem.js";
import type { SettingDeclaration, SettingValue } from "./contract.js";

/**
 * A settings change checked against the declaration the product serves (GET /settings): one error
 * per setting that is not declared or whose value is not of its declared type. The server refuses
 * with these (400, before anything is written); the sidebar's form is built from the same declaration.
 */
export function settingsErrors(declared: readonly SettingDeclaration[], settings: Record<string, SettingValue>, location = "body.input.settings"): FieldError[] {
  const byKey = new Map(declared.map((d) => [d.key, d]));
  const errors: FieldError[] = [];
  for (const [key, value] of Object.entries(settings)) {
    const field = `${location}.${key}`;
    const declaration = byKey.get(key);
    const reason = declaration ? valueError(declaration, value) : `not a setting support may change (declared: ${[...byKey.keys()].join(", ") || "none"})`;
    if (reason) errors.push({ field, reason });
  }
  return errors;
}

function valueError(declaration: SettingDeclaration, value: SettingValue): string | null {
  switch (declaration.type) {
    case "boolean":
      return typeof value === "boolean" ? null : "expected true or false";
    case "number":
      return typeof value === "number" && Number.isFinite(value) ? null : "expected a number";
    case "string":
      if (typeof value !== "string") return "expected text";
      return declaration.maxLength !== undefined && value.length > declaration.maxLength ? `at most ${declaration.maxLength} characters` : null;
    case "enum":
      return typeof value === "string" && (declaration.values ?? []).includes(value) ? null : `expected one of: ${(declaration.values ?? []).join(", ")}`;
  }
}
