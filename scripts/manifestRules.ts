/**
 * Zendesk's documented rules for an app's manifest.json and its default-locale translations, checked
 * offline (zcli apps:validate needs Zendesk's API). Used by `npm run package:app` and its test.
 * Sources: Zendesk's developer documentation, "Manifest reference" and "Setting up app parameters".
 */

export const parameterTypes = ["text", "checkbox", "url", "number", "multiline", "hidden", "oauth"] as const;
export const secureScopes = ["header", "body", "url", "jwt_secret_key", "jwt_claim", "basic_auth_username", "basic_auth_password"] as const;
export const locationOptions = ["url", "flexible", "autoLoad", "autoHide", "signed", "size"] as const;

/** Locations by product; Steward uses support's ticket_sidebar. */
export const locationsByProduct: Record<string, readonly string[]> = {
  support: ["ticket_sidebar", "new_ticket_sidebar", "user_sidebar", "organization_sidebar", "nav_bar", "top_bar", "ticket_editor", "background", "modal", "system_top_bar"],
  sell: ["deal_card", "lead_card", "person_card", "company_card", "top_bar", "background", "modal"],
  chat: ["chat_sidebar", "background", "modal"],
};

const knownTopLevel = new Set([
  "name",
  "author",
  "defaultLocale",
  "private",
  "location",
  "version",
  "frameworkVersion",
  "parameters",
  "signedUrls",
  "domainWhitelist",
  "remoteInstallationURL",
  "termsConditionsURL",
  "singleInstall",
  "oauth",
  "requirementsOnly",
  "marketingOnly",
  "experiments",
]);

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const isText = (v: unknown): v is string => typeof v === "string" && v.trim() !== "";

function dig(value: unknown, path: string[]): unknown {
  return path.reduce<unknown>((at, key) => (isObject(at) ? at[key] : undefined), value);
}

/** A location URL: https, http(s)://localhost, a file under assets/, or a {{setting.x}} placeholder that starts it. */
function checkLocationUrl(where: string, url: unknown, parameters: Map<string, Json>, signed: boolean, problems: string[]): void {
  if (!isText(url)) return void problems.push(`${where}.url: required`);
  const placeholders = [...url.matchAll(/\{\{\s*setting\.([A-Za-z0-9_]+)\s*\}\}/g)].map((m) => m[1] as string);
  for (const name of placeholders) {
    const parameter = parameters.get(name);
    if (!parameter) problems.push(`${where}.url: {{setting.${name}}} names no parameter`);
    else if (parameter.secure === true) problems.push(`${where}.url: {{setting.${name}}} is secure; secure settings only resolve through Zendesk's proxy, never in a location URL`);
  }
  const startsWithPlaceholder = /^\{\{\s*setting\.[A-Za-z0-9_]+\s*\}\}/.test(url);
  if (startsWithPlaceholder) {
    const first = parameters.get(placeholders[0] as string);
    if (first && first.type !== "url") problems.push(`${where}.url: the setting that starts the URL must be a url parameter`);
    return;
  }
  if (url.startsWith("assets/")) {
    if (signed) problems.push(`${where}: a signed location must be served by your own server, not from assets/`);
    return;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return void problems.push(`${where}.url: not a URL, an assets/ file or a {{setting.…}} URL`);
  }
  const local = parsed.hostname === "localhost" || parsed.hostname === "127.0.0.1";
  if (parsed.protocol !== "https:" && !(local && parsed.protocol === "http:")) problems.push(`${where}.url: must be https (or http://localhost for development)`);
}

function checkParameters(manifest: Json, problems: string[]): Map<string, Json> {
  const byName = new Map<string, Json>();
  if (manifest.parameters === undefined) return byName;
  if (!Array.isArray(manifest.parameters)) {
    problems.push("parameters: must be an array");
    return byName;
  }
  manifest.parameters.forEach((parameter: unknown, i) => {
    const at = `parameters[${i}]`;
    if (!isObject(parameter)) return void problems.push(`${at}: must be an object`);
    const name = parameter.name;
    if (!isText(name) || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) problems.push(`${at}.name: required, letters, digits and _ only`);
    else if (byName.has(name)) problems.push(`${at}.name: "${name}" is declared twice`);
    else byName.set(name, parameter);
    const label = isText(name) ? `parameters.${name}` : at;
    if (!(parameterTypes as readonly unknown[]).includes(parameter.type)) problems.push(`${label}.type: must be one of ${parameterTypes.join(", ")}`);
    for (const flag of ["required", "secure"] as const) {
      if (parameter[flag] !== undefined && typeof parameter[flag] !== "boolean") problems.push(`${label}.${flag}: must be true or false`);
    }
    const secure = parameter.secure === true;
    if ((secure || parameter.type === "hidden") && parameter.default !== undefined) problems.push(`${label}.default: a ${secure ? "secure" : "hidden"} parameter must not have a default`);
    if (parameter.scopes !== undefined) {
      if (!secure) problems.push(`${label}.scopes: only secure parameters have scopes`);
      if (!Array.isArray(parameter.scopes) || parameter.scopes.length === 0) problems.push(`${label}.scopes: must be a non-empty array`);
      else for (const scope of parameter.scopes) if (!(secureScopes as readonly unknown[]).includes(scope)) problems.push(`${label}.scopes: "${String(scope)}" is not one of ${secureScopes.join(", ")}`);
    } else if (secure) problems.push(`${label}.scopes: a secure parameter must say where it may be used (${secureScopes.join(", ")})`);
  });
  return byName;
}

function checkLocations(manifest: Json, parameters: Map<string, Json>, problems: string[]): void {
  const location = manifest.location;
  if (!isObject(location) || Object.keys(location).length === 0) return void problems.push("location: required (product → location → URL)");
  for (const [product, places] of Object.entries(location)) {
    const allowed = locationsByProduct[product];
    if (!allowed) {
      problems.push(`location.${product}: unknown product (${Object.keys(locationsByProduct).join(", ")})`);
      continue;
    }
    if (!isObject(places) || Object.keys(places).length === 0) {
      problems.push(`location.${product}: must name at least one location`);
      continue;
    }
    for (const [place, value] of Object.entries(places)) {
      const where = `location.${product}.${place}`;
      if (!allowed.includes(place)) problems.push(`${where}: not a ${product} location`);
      if (typeof value === "string") {
        checkLocationUrl(where, value, parameters, manifest.signedUrls === true, problems);
        continue;
      }
      if (!isObject(value)) {
        problems.push(`${where}: must be a URL or an object with url`);
        continue;
      }
      for (const key of Object.keys(value)) if (!(locationOptions as readonly string[]).includes(key)) problems.push(`${where}.${key}: unknown option (${locationOptions.join(", ")})`);
      for (const flag of ["flexible", "autoLoad", "autoHide", "signed"] as const) {
        if (value[flag] !== undefined && typeof value[flag] !== "boolean") problems.push(`${where}.${flag}: must be true or false`);
      }
      checkLocationUrl(where, value.url, parameters, value.signed === true || manifest.signedUrls === true, problems);
    }
  }
}

/** Locations shown as an icon: the package must hold assets/icon_<location>.svg. */
export const iconLocations = ["nav_bar", "top_bar", "ticket_editor"] as const;

/**
 * Every problem found (empty when the app would pass): one line each, naming the field. With
 * `assets` (the package's asset paths), icon locations must have their SVG icon there.
 */
export function validateManifest(manifest: unknown, translations: Record<string, unknown>, assets?: readonly string[]): string[] {
  const problems: string[] = [];
  if (!isObject(manifest)) return ["manifest.json: must be a JSON object"];
  if (!isText(manifest.name)) problems.push("name: required");
  if (!isObject(manifest.author)) problems.push("author: required, with name and email");
  else {
    if (!isText(manifest.author.name)) problems.push("author.name: required");
    if (!isText(manifest.author.email) || !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(manifest.author.email)) problems.push("author.email: required, an email address");
    if (manifest.author.url !== undefined && (!isText(manifest.author.url) || !/^https?:\/\//.test(manifest.author.url))) problems.push("author.url: must be an http(s) URL");
  }
  if (!isText(manifest.defaultLocale) || !/^[a-z]{2}(-[a-z]{2})?$/i.test(manifest.defaultLocale)) problems.push("defaultLocale: required, a locale such as en");
  if (manifest.frameworkVersion !== "2.0") problems.push('frameworkVersion: must be "2.0"');
  if (manifest.version !== undefined && (!isText(manifest.version) || !/^\d+\.\d+(\.\d+)?$/.test(manifest.version))) problems.push("version: must look like 1.0.0");
  for (const flag of ["private", "signedUrls", "singleInstall"] as const) {
    if (manifest[flag] !== undefined && typeof manifest[flag] !== "boolean") problems.push(`${flag}: must be true or false`);
  }
  for (const key of Object.keys(manifest)) if (!knownTopLevel.has(key)) problems.push(`${key}: not a manifest field`);

  const parameters = checkParameters(manifest, problems);
  checkLocations(manifest, parameters, problems);
  if (assets && isObject(manifest.location)) {
    for (const [product, places] of Object.entries(manifest.location)) {
      if (!isObject(places)) continue;
      for (const place of iconLocations) if (place in places && !assets.includes(`assets/icon_${place}.svg`)) problems.push(`location.${product}.${place}: needs its icon at assets/icon_${place}.svg`);
    }
  }

  const locale = isText(manifest.defaultLocale) ? manifest.defaultLocale : "en";
  const strings = translations[locale];
  if (!isObject(strings)) problems.push(`translations/${locale}.json: required for the default locale`);
  else {
    if (!isText(dig(strings, ["app", "name"]))) problems.push(`translations/${locale}.json: app.name is required`);
    for (const name of parameters.keys()) {
      if (!isText(dig(strings, ["app", "parameters", name, "label"]))) problems.push(`translations/${locale}.json: app.parameters.${name}.label is required`);
    }
  }
  return problems;
}
