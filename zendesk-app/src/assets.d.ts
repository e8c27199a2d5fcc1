/** Vite's `?url` imports: the built asset's URL. */
declare module "*?url" {
  const url: string;
  export default url;
}

/** One part of the sidebar's strings in one language (zendesk-app/stringParts.ts). */
declare module "virtual:steward-strings/*" {
  const strings: Record<string, string>;
  export default strings;
}
